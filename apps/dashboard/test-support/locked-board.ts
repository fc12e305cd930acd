// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { openQueueStore, type QueueStore, type StoreQueue } from '@billing/queue';
import { queueBackends, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import { UnrecoverableError } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { buildDashboard } from '../src/app';

export const USER = 'operator';
export const PASSWORD = 'lockdown test: correct horse battery staple';
export const HOST = 'board.test:3001';
/** What the board's own page sends with an action (an XHR from its origin, no body). */
export const OPERATOR = {
  authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
  host: HOST,
  origin: `http://${HOST}`,
  'sec-fetch-site': 'same-origin',
  'sec-fetch-mode': 'cors',
};
export const JSON_BODY = { 'content-type': 'application/json' };

/**
 * The dashboard over a queue of its own (emptied, with the captured log, before each test),
 * for a test file about what operators may do. Call once at the top of the file. What operators
 * may do is the board's guard's business, the same on either backend: one backend is enough.
 */
export function useLockedBoard(name: string) {
  const queueName = uniqueQueueName(name);
  let location: TestQueueLocation;
  let store: QueueStore;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests write jobs of any shape
  let queue: StoreQueue<any>;
  let app: FastifyInstance;
  const logLines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    location = await testQueueLocation(queueBackends()[0]!, name.replace(/-/g, '_'));
    store = openQueueStore(location.config, { role: 'producer' });
    queue = store.queue(queueName);
    const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });
    app = await buildDashboard({ queues: [queue], user: USER, password: PASSWORD, logger });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close();
    await store?.close();
    await location?.drop();
  });
  beforeEach(async () => {
    await queue.obliterate({ force: true });
    logLines.length = 0;
  });

  /** Adds jobs and lets a worker complete or fail them (failing ones fail for good at once). */
  async function settled(jobs: Array<{ id: string; fail: boolean }>): Promise<void> {
    const ids = new Set(jobs.map((j) => j.id));
    for (const job of jobs) await queue.add('invoice.paid', { id: job.id, note: 'original' }, { jobId: job.id });
    const failing = new Set(jobs.filter((j) => j.fail).map((j) => j.id));
    const workerStore = openQueueStore(location.config, { role: 'consumer' });
    const worker = workerStore.worker(
      queueName,
      async (job) => {
        if (failing.has(job.id ?? '')) throw new UnrecoverableError('failed on purpose (test)');
        return { outcome: 'applied' };
      },
      {},
    );
    try {
      await expect
        .poll(
          async () => (await Promise.all([...ids].map((id) => queue.getJobState(id)))).every((s) => s === 'completed' || s === 'failed'),
          { timeout: 15_000 },
        )
        .toBe(true);
    } finally {
      await worker.close();
      await workerStore.close();
    }
  }

  /** Everything a request could change: counts, pause, limits, and each job's state, data and options. */
  async function snapshot(ids: string[]): Promise<unknown> {
    const jobs = await Promise.all(
      ids.map(async (id) => {
        const job = await queue.getJob(id);
        return job
          ? { id, state: await job.getState(), data: job.data, delay: job.delay, priority: job.priority, attempts: job.attemptsMade }
          : { id, state: 'missing' };
      }),
    );
    return {
      counts: await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'waiting-children'),
      paused: await queue.isPaused(),
      concurrency: await queue.getGlobalConcurrency(),
      rateLimit: await queue.getRateLimitTtl(),
      schedulers: await queue.getJobSchedulersCount(),
      jobs,
    };
  }

  return {
    queueName,
    /** `queueName` as it appears in the board's API paths. */
    q: encodeURIComponent(queueName),
    queue: () => queue,
    app: () => app,
    settled,
    snapshot,
    audits: () => logLines.filter((l) => l.audit === true),
  };
}
