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
    const apiBase = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

    // 1. One worker more than it takes to reach the limit, all started at once (starting is the slow
    //    part), each with an API key of its own: the request it sends Stripe names the one holding the job.
    const workers: AppProcess[] = await Promise.all(
      Array.from({ length: STALL_LIMIT + 2 }, (_, i) =>
        startWorker(cleanup, {
          databaseUrl: s.db.url,
          queue: s.queueConfig,
          queueName: s.queueName,
          lockDurationMs: 1_000,
          env: { STRIPE_SECRET_KEY: `sk_test_stall_${i}`, STRIPE_API_BASE: apiBase },
        }),
      ),
    );
    const holderOf = (request: IncomingMessage) => {
      const key = /sk_test_stall_(\d+)/.exec(String(request.headers.authorization))?.[1];
      const holder = workers[Number(key)];
      if (!holder) throw new Error(`a Stripe request from no known worker (authorization ${request.headers.authorization})`);
      return holder;
    };
    const checkout = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_stall', customer: 'cus_stall' }));
    await enqueueEvent(s.store, s.queue, signedJob(checkout));

    // 2. A worker takes the job (it asks Stripe) and is SIGKILLed while holding it; a live one finds
    //    the lock expired and takes the job back as stalled. One more than the limit…
    const killed: AppProcess[] = [];
    for (let kill = 1; kill <= STALL_LIMIT + 1; kill += 1) {
      await expect.poll(() => asked.length, { timeout: 15_000, interval: 20 }).toBe(kill);
      const holder = holderOf(asked[kill - 1] as IncomingMessage);
      holder.child.kill('SIGKILL');
      await holder.exited;
      killed.push(holder);
    }
    // 3. …so the next worker to take it fails it for good.
    await expect.poll(() => s.queue.getJobState(checkout.id), { timeout: 15_000, interval: 50 }).toBe('failed');
    const job = await s.queue.getJob(checkout.id);
    const alerts = workers.flatMap((w) => logLines(w)).filter((l) => l.alert === 'event_failed_permanently');
    const failer = workers.find((w) => logLines(w).some((l) => l.alert === 'event_failed_permanently')) ?? (workers.at(-1) as AppProcess);
    const metrics = await fetch(String(/"metrics":"([^"]+)"/.exec(failer.output())?.[1])).then((r) => r.text());
    console.log(
      `[fault] stall limit [${backend}]: kills ${killed.length} (distinct workers ${new Set(killed).size}) / job ${await s.queue.getJobState(checkout.id)} (${job?.failedReason}) / alerts ${alerts.length} / stalled lines ${countLogs(workers, /^job stalled/)} / Stripe asked ${asked.length}`,
    );

    expect(new Set(killed).size).toBe(STALL_LIMIT + 1); // each kill took down the worker then holding the job
    expect(job?.failedReason).toBe('job stalled more than allowable limit');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ eventId: checkout.id, reason: 'job stalled more than allowable limit' });
    expect(metrics).toMatch(/^billing_worker_failures_total\{type="checkout\.session\.completed",kind="final",app="worker"\} 1$/m);
    expect(metrics).not.toMatch(/kind="retry"/);
    // Not applied: the ledger never saw it (each run died before its transaction).
    expect(await s.db.sql`select 1 from webhook_events where stripe_event_id = ${checkout.id}`).toHaveLength(0);
  }, 120_000);
});
