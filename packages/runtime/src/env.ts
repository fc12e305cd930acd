import { z } from 'zod';

export const DEFAULT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/billing';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

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
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:'], DEFAULT_DATABASE_URL),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:'], DEFAULT_REDIS_URL),
  QUEUE_NAME: z
    .string()
    .trim()
    .default('stripe-events')
    .refine((v) => v.length > 0 && !v.includes(':'), { message: 'must be non-empty and contain no ":"' }),
  QUEUE_PREFIX: z.string().trim().default('bull').refine((v) => v.length > 0, { message: 'must be non-empty' }),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  host: (fallback: string) => z.string().trim().min(1).default(fallback),
} as const;

type Source = Record<string, string | undefined>;

/**
 * Validates `source` against `shape`. Empty strings count as unset, so `FOO=` means the default.
 * Throws an `EnvError` whose message has one line per bad variable, each naming it.
 */
export function loadEnv<S extends z.ZodRawShape>(shape: S, source: Source): z.infer<z.ZodObject<S>> {
  const present = Object.fromEntries(
    Object.keys(shape).flatMap((key) => {
      const value = source[key];
      return value === undefined || value.trim() === '' ? [] : [[key, value]];
    }),
  );
  const result = z.object(shape).safeParse(present);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    const given = present[name];
    const shown = given === undefined || /SECRET|PASSWORD|KEY/.test(name) ? '' : ` (got "${given.slice(0, 80)}")`;
    return `${name} ${describeIssue(issue, given)}${shown}`;
  });
  throw new EnvError(lines.join('\n'));
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
): z.infer<z.ZodObject<S>> {
  try {
    return loadEnv(shape, source);
  } catch (error) {
    if (!(error instanceof EnvError)) throw error;
    for (const line of error.message.split('\n')) console.error(`${app}: ${line}`);
    process.exit(1);
  }
}

export { z };
