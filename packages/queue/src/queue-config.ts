import { describeRedis, type RedisConfig } from './redis/redis-config';

/** BullMQ's default schema for the Postgres backend (`QUEUE_SCHEMA`). */
export const DEFAULT_QUEUE_SCHEMA = 'bullmq';

/**
 * Where the queues live: Redis (standalone, Sentinel or Cluster, under a key prefix) or Postgres
 * (BullMQ's PostgreSQL backend, in a schema of its own). `queueConfigFromEnv` builds it from the
 * environment; `openQueueStore` opens it.
 */
export type QueueConfig = { backend: 'redis'; redis: RedisConfig; prefix: string } | { backend: 'postgres'; url: string; schema: string };

/** Where the queue is, for logs and messages: backend, host and database or schema; never credentials. */
export function describeQueue(config: QueueConfig): string {
  if (config.backend === 'redis') return `redis ${describeRedis(config.redis)} prefix ${config.prefix}`;
  return `postgres ${describePostgres(config.url)} schema ${config.schema}`;
}

/** `host:port/database` of a Postgres URL. */
export function describePostgres(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || '127.0.0.1'}:${parsed.port || 5432}${parsed.pathname || '/'}`;
  } catch {
    return '(unparsable URL)';
  }
}
