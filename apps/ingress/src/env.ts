import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { checkRedisEnv, REDIS_MIN_REPLICAS_ACK, redisEnvFields } from '@billing/runtime/redis-env';

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

export const ingressEnvShape = {
  STRIPE_WEBHOOK_SECRET: webhookSecrets,
  PORT: envFields.port(3000),
  HOST: envFields.host('127.0.0.1'),
  ...redisEnvFields,
  REDIS_MIN_REPLICAS_ACK,
  QUEUE_NAME: envFields.QUEUE_NAME,
  QUEUE_PREFIX: envFields.QUEUE_PREFIX,
  LOG_LEVEL: envFields.LOG_LEVEL,
};

export type IngressEnv = z.infer<z.ZodObject<typeof ingressEnvShape>>;

/** Reads and validates the ingress environment; on a bad variable prints one line naming it and exits 1. */
export function loadIngressEnv(source: Record<string, string | undefined> = process.env): IngressEnv {
  return loadEnvOrExit('ingress', ingressEnvShape, source, checkRedisEnv);
}
