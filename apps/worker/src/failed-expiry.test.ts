import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { createEventQueue, producerConnection, type EventQueue, type StripeEventJobData } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, type Registry } from '@billing/runtime/metrics';
import { createTestDatabase, uniqueQueueName, type TestDatabase } from '@billing/testing/database';
import { signedJob, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { event, subscriptionObject } from '@billing/testing/stripe-events';
import { waitFor } from '@billing/testing/wait-for';
import { startFailedExpiry } from './failed-expiry';
import { createWorkerMetrics } from './metrics';
import { startWorker, type WorkerHandle } from './worker';

const redisUrl = inject('redisUrl');
const DAY_MS = 86_400_000;
let t: TestDatabase;
let producer: ReturnType<typeof producerConnection>;
let queue: EventQueue;
let handle: WorkerHandle;
let registry: Registry;
const lines: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase('worker_expiry');
  producer = producerConnection(redisUrl);
  const queueName = uniqueQueueName('expiry');
  queue = createEventQueue(producer, { name: queueName });
  registry = createRegistry('worker-expiry-test');
  const destination = new Writable({ write: (chunk, _encoding, done) => void (lines.push(String(chunk)), done()) });
  handle = await startWorker({
    redis: { url: redisUrl },
    queueName,
    queuePrefix: 'bull',
    concurrency: 2,
    databaseUrl: t.url,
    jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
    config: defaultBillingConfig,
    failedRetentionMs: 30 * DAY_MS,
    failedExpiryIntervalMs: 0,
    logger: createLogger('worker-expiry-test', 'info', destination),
    registry,
  });
});
afterAll(async () => {
  await handle?.close();
  await queue?.obliterate({ force: true });
  await queue?.close();
  await producer?.quit();
  await t?.drop();
});

/** A job the ingress did not sign: the worker fails it at once. */
async function failedJob(): Promise<string> {
  const forged = event('customer.subscription.created', subscriptionObject({ id: 'sub_expiry', customer: 'cus_expiry' }));
  await queue.add(forged.type, forged as StripeEventJobData, { jobId: forged.id });
  await waitFor(async () => (await queue.getJobState(forged.id)) === 'failed', 'the forged job failed');
  return forged.id;
}

/** Moves a finished job's finishing time back, in its hash and in its state's set (scored by it). */
async function finishedAgo(id: string, state: 'failed' | 'completed', ms: number): Promise<void> {
  const at = Date.now() - ms;
  await producer.hset(queue.toKey(id), 'finishedOn', String(at));
  await producer.zadd(queue.toKey(state), at, id);
}

const gauge = async (name: string) => Number(/^\w+\{[^}]*\} (\S+)$/m.exec(await registry.getSingleMetricAsString(name))![1]);

describe('failed jobs past WORKER_FAILED_RETENTION_DAYS', () => {
  it('are removed, counted and logged; a recent failed job and completed or waiting jobs stay; the gauges show it coming', async () => {
    const old = await failedJob();
    const recent = await failedJob();
    const ignored = event('customer.created', { id: 'cus_expiry', object: 'customer' });
    await queue.add(ignored.type, signedJob(ignored), { jobId: ignored.id });
    await waitFor(async () => (await queue.getJobState(ignored.id)) === 'completed', 'the ignored event completed');
    await handle.worker.pause();
    const waiting = event('customer.created', { id: 'cus_expiry_waiting', object: 'customer' });
    await queue.add(waiting.type, signedJob(waiting), { jobId: waiting.id });
    await finishedAgo(old, 'failed', 31 * DAY_MS);
    await finishedAgo(ignored.id, 'completed', 31 * DAY_MS);

    // Before: the oldest failed job is past retention minus 3 days (the alert's threshold).
    expect(await gauge('billing_queue_failed_retention_seconds')).toBe(30 * 86_400);
    expect(await gauge('billing_queue_oldest_failed_age_seconds')).toBeGreaterThanOrEqual(31 * 86_400);
    expect(await gauge('billing_queue_oldest_failed_age_seconds')).toBeLessThan(31 * 86_400 + 60);

    expect(await handle.expireFailed()).toBe(1);
    expect(await queue.getJob(old)).toBeUndefined();
    expect(await queue.getJobState(recent)).toBe('failed');
    expect(await queue.getJobState(ignored.id)).toBe('completed');
    expect(await queue.getJobState(waiting.id)).toBe('waiting');
    expect(await registry.getSingleMetricAsString('billing_worker_failed_jobs_expired_total')).toMatch(
      /^billing_worker_failed_jobs_expired_total\{app="worker-expiry-test"\} 1$/m,
    );
    expect(await gauge('billing_queue_oldest_failed_age_seconds')).toBeLessThan(60);
    const logged = lines.map((line) => JSON.parse(line) as { msg: string });
    const warned = logged.filter((line) => line.msg.startsWith('failed jobs expired'));
    expect(warned).toEqual([expect.objectContaining({ level: 40, removed: 1, eventIds: [old], retentionDays: 30 })]);

    // Nothing more is past the retention: nothing removed, counted or logged.
    expect(await handle.expireFailed()).toBe(0);
    expect(await registry.getSingleMetricAsString('billing_worker_failed_jobs_expired_total')).toMatch(/\} 1$/m);
    handle.worker.resume();
  });

  it('run by themselves every interval, until stopped', async () => {
    const id = await failedJob();
    await finishedAgo(id, 'failed', 31 * DAY_MS);
    const metrics = createWorkerMetrics(createRegistry('worker-expiry-interval'));
    const logger = createLogger('expiry', 'silent');
    const expiry = startFailedExpiry({ queue, retentionMs: 30 * DAY_MS, intervalMs: 50, logger, metrics });
    try {
      await waitFor(async () => (await queue.getJob(id)) === undefined, 'the old failed job removed by the timer');
    } finally {
      expiry.stop();
    }
    expect((await metrics.failedExpired.get()).values[0]?.value).toBe(1);
  });
});
