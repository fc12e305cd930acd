import type {} from '@billing/testing/global-setup';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, inject } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { createEventQueue, producerConnection, type EventQueue } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, type Registry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { uniqueQueueName } from '@billing/testing/test-queue';
import { TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from '../src/worker';

export interface TestWorker {
  t: TestDatabase;
  /** The connection the test writes jobs (and raw Redis commands) with. */
  producer: ReturnType<typeof producerConnection>;
  queue: EventQueue;
  handle: WorkerHandle;
  registry: Registry;
  /** The worker's log lines (JSON), as written. */
  lines: string[];
}

/**
 * A file's worker in-process (concurrency 2) on a fresh database and a queue of its own, its log
 * lines captured; started before the file's tests, closed and dropped after them. `overrides`
 * replace the options of `startWorker`. Read the fields inside tests (they are set in beforeAll).
 */
export function useTestWorker(label: string, overrides: Partial<StartWorkerOptions> = {}): TestWorker {
  const world = { lines: [] as string[] } as TestWorker;
  beforeAll(async () => {
    const redisUrl = inject('redisUrl');
    world.t = await createTestDatabase(`worker_${label}`);
    world.producer = producerConnection(redisUrl);
    const queueName = uniqueQueueName(label);
    world.queue = createEventQueue(world.producer, { name: queueName });
    world.registry = createRegistry(`worker-${label}-test`);
    const destination = new Writable({ write: (chunk, _encoding, done) => void (world.lines.push(String(chunk)), done()) });
    world.handle = await startWorker({
      redis: { url: redisUrl },
      queueName,
      queuePrefix: 'bull',
      concurrency: 2,
      databaseUrl: world.t.url,
      jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
      config: defaultBillingConfig,
      logger: createLogger(`worker-${label}-test`, 'info', destination),
      registry: world.registry,
      ...overrides,
    });
  });
  afterAll(async () => {
    await world.handle?.close();
    await world.queue?.obliterate({ force: true });
    await world.queue?.close();
    await world.producer?.quit();
    await world.t?.drop();
  });
  return world;
}
