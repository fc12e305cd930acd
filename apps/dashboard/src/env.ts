import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { checkRedisEnv, redisEnvFields } from '@billing/runtime/redis-env';

/** The dashboard's environment (DESIGN.md "Environment"); the only place it reads `process.env`. */
export const dashboardEnvShape = {
  ...redisEnvFields,
  QUEUE_NAME: envFields.QUEUE_NAME,
  QUEUE_PREFIX: envFields.QUEUE_PREFIX,
  LOG_LEVEL: envFields.LOG_LEVEL,
  DASHBOARD_PORT: envFields.port(3001),
  DASHBOARD_HOST: envFields.host('127.0.0.1'),
  DASHBOARD_USER: z
    .string()
    .trim()
    .default('admin')
    .refine((v) => v.length > 0 && !v.includes(':'), { message: 'must be non-empty and contain no ":"' }),
  /** Unset: `server.ts` generates one per run and prints it once. Not trimmed: spaces are valid in a password. */
  DASHBOARD_PASSWORD: z.string().optional(),
};

export type DashboardEnv = z.infer<z.ZodObject<typeof dashboardEnvShape>>;

export function loadDashboardEnv(source: Record<string, string | undefined> = process.env): DashboardEnv {
  return loadEnvOrExit('dashboard', dashboardEnvShape, source, checkRedisEnv);
}
