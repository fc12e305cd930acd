import { randomBytes } from 'node:crypto';
import {
  migrateQueueSchema,
  openEventQueue,
  openQueueStore,
  type EventQueue,
  type QueueConfig,
  type QueueStore,
  type StoreOptions,
} from '@billing/queue';
import { describe, inject } from 'vitest';
import { createTestDatabase } from './database';
import type {} from './provided-context';

/** The two queue backends a test may run on. */
export type QueueBackend = QueueConfig['backend'];

/** The schema a test's Postgres-backed queues live in, inside the test's own database. */
const TEST_QUEUE_SCHEMA = 'bullmq';

/** The Redis the global setup found, or `undefined` when this machine has none. */
export function testRedisUrl(): string | undefined {
  const url = inject('redisUrl') as string | null | undefined;
  return url ? url : undefined;
}

/** The backends this run can test: Postgres always; Redis when the global setup found one. */
export function queueBackends(): QueueBackend[] {
  return testRedisUrl() ? ['redis', 'postgres'] : ['postgres'];
}

/**
 * One suite per available backend (`describe.each`): the queue contract holds on both. A run
 * without Redis says once, in the suite's name, that only Postgres ran.
 */
export function describeEachBackend(name: string, suite: (backend: QueueBackend) => void): void {
  describe.each(queueBackends())(`${name} [%s queue]`, suite);
}

/**
 * Where a test's queues live on `backend`: the test Redis (queue names keep tests apart), or the
 * BullMQ schema inside the test's own database `databaseUrl`, migrated here (the apps never migrate).
 */
export async function testQueueConfig(backend: QueueBackend, databaseUrl: string): Promise<QueueConfig> {
  if (backend === 'redis') {
    const url = testRedisUrl();
    if (!url) throw new Error('testQueueConfig: this run has no Redis (use queueBackends() to choose backends)');
    return { backend: 'redis', redis: { url }, prefix: 'bull' };
  }
  await migrateQueueSchema(databaseUrl, TEST_QUEUE_SCHEMA);
  return { backend: 'postgres', url: databaseUrl, schema: TEST_QUEUE_SCHEMA };
}

/** A queue name no other test file uses. */
export function uniqueQueueName(label = 'test'): string {
  return `t-${label.replace(/[^a-z0-9-]/gi, '-')}-${randomBytes(4).toString('hex')}`;
}

export interface TestQueue {
  config: QueueConfig;
  store: QueueStore;
  queue: EventQueue;
  name: string;
  /** Removes the queue's jobs and closes the queue and the store. */
  close: () => Promise<void>;
}

/** A producer store and an events queue of a name of its own, on `backend`. */
export async function openTestQueue(
  backend: QueueBackend,
  databaseUrl: string,
  label: string,
  options: Partial<StoreOptions> = {},
): Promise<TestQueue> {
  const config = await testQueueConfig(backend, databaseUrl);
  const store = openQueueStore(config, { role: 'producer', ...options });
  const name = uniqueQueueName(label);
  const queue = openEventQueue(store, name);
  await queue.waitUntilReady();
  return {
    config,
    store,
    queue,
    name,
    close: async () => {
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await store.close();
    },
  };
}

/** Removes every job of a queue (so a run leaves the developer's Redis as it found it). */
export async function dropQueue(config: QueueConfig, name: string): Promise<void> {
  const store = openQueueStore(config, { role: 'producer', timeoutMs: 5_000 });
  const queue = openEventQueue(store, name);
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    await store.close();
  }
}

/** The environment that points an app process (ingress, worker, dashboard, a script) at `config`. */
export function queueEnvOf(config: QueueConfig): Record<string, string> {
  if (config.backend === 'postgres') return { QUEUE_BACKEND: 'postgres', QUEUE_DATABASE_URL: config.url, QUEUE_SCHEMA: config.schema };
  const { url, sentinels, clusterNodes } = config.redis;
  const list = (nodes: Array<{ host: string; port: number }>) =>
    nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  return {
    QUEUE_BACKEND: 'redis',
    REDIS_URL: url,
    QUEUE_PREFIX: config.prefix,
    ...(sentinels && { REDIS_SENTINELS: list(sentinels.nodes), REDIS_SENTINEL_NAME: sentinels.name }),
    ...(clusterNodes && { REDIS_CLUSTER_NODES: list(clusterNodes) }),
  };
}

export interface TestQueueLocation {
  config: QueueConfig;
  /** `queueEnvOf(config)`: for an app process or a script. */
  env: Record<string, string>;
  /** The test database the Postgres backend's queue lives in (a fresh one), if any. */
  databaseUrl?: string;
  /** Drops that database, if any. */
  drop: () => Promise<void>;
}

/**
 * Where a test's queue lives when nothing else of the test needs a database: Redis, or on
 * Postgres the BullMQ schema of a fresh test database of its own.
 */
export async function testQueueLocation(backend: QueueBackend, label: string): Promise<TestQueueLocation> {
  if (backend === 'redis') {
    const config = await testQueueConfig('redis', '');
    return { config, env: queueEnvOf(config), drop: async () => {} };
  }
  const database = await createTestDatabase(label);
  const config = await testQueueConfig('postgres', database.url);
  return { config, env: queueEnvOf(config), databaseUrl: database.url, drop: () => database.drop() };
}
