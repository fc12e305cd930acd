import { expect, it } from 'vitest';
import { describeEachBackend } from '@billing/testing/test-queue';
import type { StripeEventJobData } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { signedJob } from '@billing/testing/job-signing';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { waitFor } from '@billing/testing/wait-for';
import { startFailedExpiry } from './failed-expiry';
import { createWorkerMetrics } from './metrics';
import { useTestWorker } from '../test-support/test-worker';

const DAY_MS = 86_400_000;

describeEachBackend('failed jobs past WORKER_FAILED_RETENTION_DAYS', (backend) => {
  const w = useTestWorker('expiry', backend, { failedRetentionMs: 30 * DAY_MS, failedExpiryIntervalMs: 0 });

  /** A job the ingress did not sign: the worker fails it at once. */
  async function failedJob(): Promise<string> {
    const forged = event('customer.subscription.created', subscriptionObject({ id: 'sub_expiry', customer: 'cus_expiry' }));
    await w.queue.add(forged.type, forged as StripeEventJobData, { jobId: forged.id });
    await waitFor(async () => (await w.queue.getJobState(forged.id)) === 'failed', 'the forged job failed');
    return forged.id;
  }

  const finishedAgo = (id: string, state: 'failed' | 'completed', ms: number) => w.finishedAgo(id, state, ms);

  const gauge = async (name: string) => Number(/^\w+\{[^}]*\} (\S+)$/m.exec(await w.registry.getSingleMetricAsString(name))![1]);

  it('are removed, counted and logged; a recent failed job and completed or waiting jobs stay; the gauges show it coming', async () => {
    const old = await failedJob();
    const recent = await failedJob();
    const ignored = event('customer.created', { id: 'cus_expiry', object: 'customer' });
    await w.queue.add(ignored.type, signedJob(ignored), { jobId: ignored.id });
    await waitFor(async () => (await w.queue.getJobState(ignored.id)) === 'completed', 'the ignored event completed');
    await w.handle.worker.pause();
    const waiting = event('customer.created', { id: 'cus_expiry_waiting', object: 'customer' });
    await w.queue.add(waiting.type, signedJob(waiting), { jobId: waiting.id });
    await finishedAgo(old, 'failed', 31 * DAY_MS);
    await finishedAgo(ignored.id, 'completed', 31 * DAY_MS);

    // Before: the oldest failed job is past retention minus 3 days (the alert's threshold).
    expect(await gauge('billing_queue_failed_retention_seconds')).toBe(30 * 86_400);
    expect(await gauge('billing_queue_oldest_failed_age_seconds')).toBeGreaterThanOrEqual(31 * 86_400);
    expect(await gauge('billing_queue_oldest_failed_age_seconds')).toBeLessThan(31 * 86_400 + 60);

    expect(await w.handle.expireFailed()).toBe(1);
    expect(await w.queue.getJob(old)).toBeUndefined();
    expect(await w.queue.getJobState(recent)).toBe('failed');
    expect(await w.queue.getJobState(ignored.id)).toBe('completed');
    expect(await w.queue.getJobState(waiting.id)).toBe('waiting');
    expect(await w.registry.getSingleMetricAsString('billing_worker_failed_jobs_expired_total')).toMatch(
      /^billing_worker_failed_jobs_expired_total\{app="worker-expiry-test"\} 1$/m,
    );
    expect(await gauge('billing_queue_oldest_failed_age_seconds')).toBeLessThan(60);
    const logged = w.lines.map((line) => JSON.parse(line) as { msg: string });
    const warned = logged.filter((line) => line.msg.startsWith('failed jobs expired'));
    expect(warned).toEqual([expect.objectContaining({ level: 40, removed: 1, eventIds: [old], retentionDays: 30 })]);

    // Nothing more is past the retention: nothing removed, counted or logged.
    expect(await w.handle.expireFailed()).toBe(0);
    expect(await w.registry.getSingleMetricAsString('billing_worker_failed_jobs_expired_total')).toMatch(/\} 1$/m);
    await w.handle.worker.resume();
  });

  it('run by themselves every interval, until stopped', async () => {
    const id = await failedJob();
    await finishedAgo(id, 'failed', 31 * DAY_MS);
    const metrics = createWorkerMetrics(createRegistry('worker-expiry-interval'));
    const logger = createLogger('expiry', 'silent');
    const expiry = startFailedExpiry({ queue: w.queue, retentionMs: 30 * DAY_MS, intervalMs: 50, logger, metrics });
    try {
      await waitFor(async () => (await w.queue.getJob(id)) === undefined, 'the old failed job removed by the timer');
    } finally {
      expiry.stop();
    }
    expect((await metrics.failedExpired.get()).values[0]?.value).toBe(1);
  });
});
