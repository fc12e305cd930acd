import { DEFAULT_QUEUE_PREFIX, DEFAULT_QUEUE_SCHEMA, type QueueConfig } from '@billing/queue';
import { settings, type QueueBackendName } from '../settings';

/** Where a phase's queue lives: the config the bench opens it with, and the env the apps get for it. */
export interface BenchBackend {
  name: QueueBackendName;
  config: QueueConfig;
  env: Record<string, string>;
}

/** The local Redis (`BENCH_REDIS_URL`): what every phase used before the Postgres backend. */
export function redisBackend(): BenchBackend {
  return {
    name: 'redis',
    config: { backend: 'redis', redis: { url: settings.redisUrl }, prefix: DEFAULT_QUEUE_PREFIX },
    env: { QUEUE_BACKEND: 'redis', REDIS_URL: settings.redisUrl },
  };
}

/** BullMQ's Postgres backend in the bench's own database (its schema migrated by `createBenchDatabase`), as the Postgres-only profile runs it. */
export function postgresBackend(databaseUrl: string): BenchBackend {
  return {
    name: 'postgres',
    config: { backend: 'postgres', url: databaseUrl, schema: DEFAULT_QUEUE_SCHEMA },
    env: { QUEUE_BACKEND: 'postgres', DATABASE_URL: databaseUrl, QUEUE_SCHEMA: DEFAULT_QUEUE_SCHEMA },
  };
}

export function benchBackend(name: QueueBackendName, databaseUrl: string): BenchBackend {
  return name === 'redis' ? redisBackend() : postgresBackend(databaseUrl);
}
