import { z } from 'zod';

export const DEFAULT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/billing';

export class EnvError extends Error {
  override name = 'EnvError';
}

const urlWithProtocols = (protocols: string[], fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .refine(
      (value) => {
        try {
          return protocols.includes(new URL(value).protocol);
        } catch {
          return false;
        }
      },
      { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
    );

/** Environment fragments shared by the apps; each app composes its own schema in `env.ts`. */
export const envFields = {
  /** The key(s) the ingress signs jobs with and the worker verifies them by; several while rotating (the first signs). */
  QUEUE_SIGNING_KEY: z
    .string()
    .transform((value) =>
      value
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean),
    )
    .refine((keys) => keys.length > 0 && keys.every((key) => key.length >= 32), {
      message: 'must be one or more comma-separated keys of at least 32 characters',
    }),
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:'], DEFAULT_DATABASE_URL),
  QUEUE_NAME: z
    .string()
    .trim()
    .default('stripe-events')
    .refine((v) => v.length > 0 && !v.includes(':'), { message: 'must be non-empty and contain no ":"' }),
  QUEUE_PREFIX: z
    .string()
    .trim()
    .default('bull')
    .refine((v) => v.length > 0, { message: 'must be non-empty' }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  host: (fallback: string) => z.string().trim().min(1).default(fallback),
} as const;

type Source = Record<string, string | undefined>;

/** A rule across variables (e.g. "this one requires that one"): the variable to name and what is wrong. */
export interface EnvProblem {
  name: string;
  /** Reads after the name: `must …`, `is required when …`. */
  problem: string;
}

/** Checks the parsed values together, after each variable passed on its own. */
export type EnvCheck<T> = (env: T) => EnvProblem[];

/**
 * Validates `source` against `shape`, then `check` across variables. Empty strings count as
 * unset, so `FOO=` means the default. Throws an `EnvError` whose message has one line per bad
 * variable, each naming it; a value is echoed with any credentials in it masked, and not at
 * all for secrets.
 */
export function loadEnv<S extends z.ZodRawShape>(
  shape: S,
  source: Source,
  check?: EnvCheck<z.infer<z.ZodObject<S>>>,
): z.infer<z.ZodObject<S>> {
  const present = Object.fromEntries(
    Object.keys(shape).flatMap((key) => {
      const value = source[key];
      return value === undefined || value.trim() === '' ? [] : [[key, value]];
    }),
  );
  const shown = (name: string) => {
    const given = present[name];
    return given === undefined || isSecretName(name) ? '' : ` (got "${maskCredentials(given).slice(0, 80)}")`;
  };
  const result = z.object(shape).safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      return `${name} ${describeIssue(issue, present[name])}${shown(name)}`;
    });
    throw new EnvError(lines.join('\n'));
  }
  const problems = check?.(result.data) ?? [];
  if (problems.length > 0) throw new EnvError(problems.map((p) => `${p.name} ${p.problem}${shown(p.name)}`).join('\n'));
  return result.data;
}

/** Names whose values are never echoed. A `…_FILE` names a path, not the secret itself. */
function isSecretName(name: string): boolean {
  return /SECRET|PASSWORD|KEY/.test(name) && !name.endsWith('_FILE');
}

/**
 * Masks the user-info part of anything URL-like (`scheme://user:password@host`, and malformed
 * ones such as `redis//:pw@host`, `user:pw@host` or a password with an unencoded `/` or `@`):
 * everything between the scheme and the last `@`. A rejected URL is never echoed with its password.
 */
export function maskCredentials(value: string): string {
  const at = value.lastIndexOf('@');
  if (at === -1) return value;
  const slashes = value.indexOf('//');
  const start = slashes !== -1 && slashes < at ? slashes + 2 : (/^[a-z][a-z0-9+.-]*:/i.exec(value)?.[0].length ?? 0);
  return `${value.slice(0, start)}***${value.slice(at)}`;
}

function describeIssue(issue: z.core.$ZodIssue, given: string | undefined): string {
  if (given === undefined && issue.code === 'invalid_type') return 'is required';
  if (issue.code === 'invalid_type' && issue.expected === 'number') return 'must be a number';
  if (issue.code === 'too_big') return `must be at most ${String(issue.maximum)}`;
  if (issue.code === 'too_small') return `must be at least ${String(issue.minimum)}`;
  if (issue.code === 'invalid_value' && 'values' in issue) return `must be one of ${issue.values.join(', ')}`;
  if (issue.message.startsWith('must ') || issue.message.startsWith('is ')) return issue.message;
  return `is invalid: ${issue.message}`;
}

/** `loadEnv` for a process entry point: prints `<app>: <VAR> …` to stderr and exits 1 on a bad variable. */
export function loadEnvOrExit<S extends z.ZodRawShape>(
  app: string,
  shape: S,
  source: Source = process.env,
  check?: EnvCheck<z.infer<z.ZodObject<S>>>,
): z.infer<z.ZodObject<S>> {
  try {
    return loadEnv(shape, source, check);
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    for (const line of error.message.split('\n')) console.error(`${app}: ${line}`);
    process.exit(1);
  }
}

export { z };
