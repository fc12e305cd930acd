import { checkQueueEnv, queueEnvFields, REDIS_MIN_REPLICAS_ACK } from '@billing/queue';
import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { DEFAULT_LIMITS } from './limits';
import { THIN_WEBHOOK_PATH } from './webhook-route';

/**
 * `whsec_…`, or several comma-separated while rotating endpoint secrets. Parsed into the list
 * the verifier tries in order. The message never echoes the value.
 */
const webhookSecrets = z
  .string()
  .transform((value) => value.split(',').map((secret) => secret.trim()))
  .refine((secrets) => secrets.every((secret) => /^whsec_\S+$/.test(secret)), {
    message: 'must be one or more comma-separated secrets, each starting with whsec_',
  });

const positiveInt = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const ingressEnvShape = {
  STRIPE_WEBHOOK_SECRET: webhookSecrets,
  /** An event destination sending thin events: its secret(s). Without it, no thin route. */
  STRIPE_THIN_WEBHOOK_SECRET: webhookSecrets.optional(),
  /** Where the thin route listens. */
  THIN_WEBHOOK_PATH: z
    .string()
    .trim()
    .regex(/^\/[A-Za-z0-9/_.-]*$/, { message: 'must be a URL path starting with /' })
    .default(THIN_WEBHOOK_PATH),
  QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY,
  PORT: envFields.port(3000),
  HOST: envFields.host('127.0.0.1'),
  ...queueEnvFields,
  REDIS_MIN_REPLICAS_ACK,
  /** `/metrics`, on an internal address of its own (never the public webhook port); `0` picks a free port. */
  INGRESS_METRICS_PORT: envFields.port(9465),
  INGRESS_METRICS_HOST: envFields.host('127.0.0.1'),
  /** `IngressLimits.maxConnections`. */
  INGRESS_MAX_CONNECTIONS: positiveInt(DEFAULT_LIMITS.maxConnections, 100_000),
  /** `IngressLimits.requestTimeoutMs`: a whole request, headers and body, must arrive within it. */
  INGRESS_REQUEST_TIMEOUT_MS: positiveInt(DEFAULT_LIMITS.requestTimeoutMs, 600_000),
  LOG_LEVEL: envFields.LOG_LEVEL,
};

export type IngressEnv = z.infer<z.ZodObject<typeof ingressEnvShape>>;

/** Reads and validates the ingress environment; on a bad variable prints one line naming it and exits 1. */
export function loadIngressEnv(source: Record<string, string | undefined> = process.env): IngressEnv {
  return loadEnvOrExit('ingress', ingressEnvShape, source, checkQueueEnv);
}
