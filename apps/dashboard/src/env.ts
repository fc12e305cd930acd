import { checkQueueEnv, queueEnvFields } from '@billing/queue';
import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { DEFAULT_LOGIN_MAX_FAILURES, DEFAULT_LOGIN_WINDOW_SECONDS } from './login-limiter';
import { MIN_PASSWORD_LENGTH } from './password-policy';

/** The dashboard's environment (docs/design.md "Environment"); the only place it reads `process.env`. */
export const dashboardEnvShape = {
  ...queueEnvFields,
  LOG_LEVEL: envFields.LOG_LEVEL,
  DASHBOARD_PORT: envFields.port(3001),
  DASHBOARD_HOST: envFields.host('127.0.0.1'),
  DASHBOARD_USER: z
    .string()
    .trim()
    .default('admin')
    .refine((v) => v.length > 0 && !v.includes(':'), { message: 'must be non-empty and contain no ":"' }),
  /** Unset: `server.ts` generates one per run and prints it once. Not trimmed: spaces are valid in a password. */
  DASHBOARD_PASSWORD: z
    .string()
    .refine((v) => v.length >= MIN_PASSWORD_LENGTH, { message: `must be at least ${MIN_PASSWORD_LENGTH} characters long` })
    .optional(),
  /** Failed logins per client address within the window before it gets 429 (`login-limiter.ts`). */
  DASHBOARD_LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).default(DEFAULT_LOGIN_MAX_FAILURES),
  DASHBOARD_LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(1).default(DEFAULT_LOGIN_WINDOW_SECONDS),
};

export type DashboardEnv = z.infer<z.ZodObject<typeof dashboardEnvShape>>;

export function loadDashboardEnv(source: Record<string, string | undefined> = process.env): DashboardEnv {
  return loadEnvOrExit('dashboard', dashboardEnvShape, source, checkQueueEnv);
}
