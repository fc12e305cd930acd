import type {} from '@billing/testing/global-setup';
import { Writable } from 'node:stream';
import { afterAll, beforeAll } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, type Registry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { testQueueConfig, testRedisUrl, uniqueQueueName, type QueueBackend } from '@billing/testing/test-queue';
import { Redis } from 'ioredis';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from '../src/worker';

export interface TestWorker {
  t: TestDatabase;
  config: QueueConfig;
  /** The store and queue the test writes jobs with. */
  store: QueueStore;
  queue: EventQueue;
  handle: WorkerHandle;
  registry: Registry;
  /** The worker's log lines (JSON), as written. */
  lines: string[];
  /** Moves a finished job's finishing time `ms` back (what the failed-job retention reads). */
  finishedAgo: (id: string, state: 'failed' | 'completed', ms: number) => Promise<void>;
}

/**
 * A file's worker in-process (concurrency 2) on `backend`, a fresh database and a queue of its own
 * (on Postgres, in that database), its log lines captured; started before the tests of the
 * enclosing suite, closed and dropped after them. `overrides` replace the options of `startWorker`.
 * Read the fields inside tests (they are set in beforeAll).
 */
export function useTestWorker(label: string, backend: QueueBackend, overrides: Partial<StartWorkerOptions> = {}): TestWorker {
  const world = { lines: [] as string[] } as TestWorker;
  beforeAll(async () => {
    world.t = await createTestDatabase(`worker_${label}`);
    world.config = await testQueueConfig(backend, world.t.url);
    world.store = openQueueStore(world.config, { role: 'producer' });
    const queueName = uniqueQueueName(label);
    world.queue = openEventQueue(world.store, queueName);
    world.registry = createRegistry(`worker-${label}-test`);
    const destination = new Writable({ write: (chunk, _encoding, done) => void (world.lines.push(String(chunk)), done()) });
    world.handle = await startWorker({
      queue: world.config,
      queueName,
      concurrency: 2,
      databaseUrl: world.t.url,
      jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
      config: defaultBillingConfig,
      logger: createLogger(`worker-${label}-test`, 'info', destination),
      registry: world.registry,
      ...overrides,
    });
    world.finishedAgo = async (id, state, ms) => {
      const at = Date.now() - ms;
      if (backend === 'redis') {
        const redis = new Redis(testRedisUrl()!);
        await redis.hset(world.queue.toKey(id), 'finishedOn', String(at));
        await redis.zadd(world.queue.toKey(state), at, id);
        redis.disconnect();
      } else {
        await world.t.sql`update bullmq.job set finished_at_ms = ${at} where queue = ${queueName} and id = ${id}`;
      }
    };
  });
  afterAll(async () => {
    await world.handle?.close();
    await world.queue?.obliterate({ force: true });
    await world.queue?.close();
    await world.store?.close();
    await world.t?.drop();
  });
  return world;
}
