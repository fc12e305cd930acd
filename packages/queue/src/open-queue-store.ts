import { openPostgresStore } from './postgres/postgres-store';
import type { QueueConfig } from './queue-config';
import type { QueueStore, StoreOptions } from './queue-store';
import { openRedisStore } from './redis/redis-store';

/** The queue port for `config`'s backend (`queueConfigFromEnv`). */
export function openQueueStore(config: QueueConfig, options: StoreOptions): QueueStore {
  return config.backend === 'redis' ? openRedisStore(config, options) : openPostgresStore(config, options);
}
