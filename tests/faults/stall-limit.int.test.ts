import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enqueueEvent } from '@billing/queue';
import { signedJob } from '@billing/testing/job-signing';
import { checkoutSessionObject, event } from '@billing/stripe-simulator/events';
import { describeEachBackend } from '@billing/testing/test-queue';
import { afterAll, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { countLogs, logLines, startWorker } from '@billing/testing/faults/fleet';
import { openScenario } from '@billing/testing/faults/scenario';
import type { AppProcess } from '@billing/testing/processes';

/** The worker's stall limit (`maxStalledCount`): a job that takes its worker down more often fails. */
const STALL_LIMIT = 3;

describeEachBackend('fault: a job that takes its worker down again and again (the stall limit)', (backend) => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);

  it('fails for good after the limit, with one alert line and one final count', async () => {
    const s = await openScenario(`stall_limit_${backend}`, { backend, cleanup });
    await s.db.sql`insert into users (email, stripe_customer_id) values ('stall@example.com', 'cus_stall')`;

    // The Stripe API the worker asks for the checkout's subscription never answers (the fetch has
    // a 3 s bound): the job stays active long enough to kill its worker while it holds it.
    const asked: IncomingMessage[] = [];
    const api: Server = createServer((request) => void asked.push(request));
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
    cleanup.defer('close the fake Stripe API', () => new Promise<void>((resolve) => api.close(() => resolve())));
    const env = { STRIPE_SECRET_KEY: 'sk_test_stall', STRIPE_API_BASE: `http://127.0.0.1:${(api.address() as AddressInfo).port}` };

    const checkout = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_stall', customer: 'cus_stall' }));
    await enqueueEvent(s.store, s.queue, signedJob(checkout));

    // 1. Each worker takes the job (it asks Stripe), and is SIGKILLed while holding it; the next one
    //    finds the lock expired and takes the job back as stalled. One more than the limit…
    const workers: AppProcess[] = [];
    for (let kill = 1; kill <= STALL_LIMIT + 1; kill += 1) {
      const worker = await startWorker(cleanup, { databaseUrl: s.db.url, queue: s.queueConfig, queueName: s.queueName, lockDurationMs: 1_000, env });
      workers.push(worker);
      await expect.poll(() => asked.length, { timeout: 15_000, interval: 20 }).toBe(kill);
      worker.child.kill('SIGKILL');
      await worker.exited;
    }
    // 2. …so the next worker to take it fails it for good.
    const last = await startWorker(cleanup, { databaseUrl: s.db.url, queue: s.queueConfig, queueName: s.queueName, lockDurationMs: 1_000, env });
    workers.push(last);
    await expect.poll(() => s.queue.getJobState(checkout.id), { timeout: 15_000, interval: 50 }).toBe('failed');
    const job = await s.queue.getJob(checkout.id);
    const alerts = workers.flatMap((w) => logLines(w)).filter((l) => l.alert === 'event_failed_permanently');
    const metrics = await fetch(String(/"metrics":"([^"]+)"/.exec(last.output())?.[1])).then((r) => r.text());
    console.log(
      `[fault] stall limit [${backend}]: kills ${STALL_LIMIT + 1} / job ${await s.queue.getJobState(checkout.id)} (${job?.failedReason}) / alerts ${alerts.length} / stalled lines ${countLogs(workers, /^job stalled/)}`,
    );

    expect(job?.failedReason).toBe('job stalled more than allowable limit');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ eventId: checkout.id, reason: 'job stalled more than allowable limit' });
    expect(metrics).toMatch(/^billing_worker_failures_total\{type="checkout\.session\.completed",kind="final",app="worker"\} 1$/m);
    expect(metrics).not.toMatch(/kind="retry"/);
    // Not applied: the ledger never saw it (each run died before its transaction).
    expect(await s.db.sql`select 1 from webhook_events where stripe_event_id = ${checkout.id}`).toHaveLength(0);
  }, 120_000);
});
