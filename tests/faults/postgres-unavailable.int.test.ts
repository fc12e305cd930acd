// Types `inject()` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import type { EventQueue, StripeEventJobData, StripeEventJobResult } from '@billing/queue';
import { runScript } from '@billing/testing/processes';
import { startTcpProxy } from '@billing/testing/tcp-proxy';
import { describeEachBackend } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import type { Job } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { setTimeout as sleep } from 'node:timers/promises';
import { paced } from '@billing/testing/faults/concurrency';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { countLogs, deadApp, isAlive, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { ledgerCount, waitForSettled } from '@billing/testing/faults/settle';
import { differencesFromStripe, historiesTotalling, interleaved } from '@billing/testing/faults/subscriptions';

const EVENTS = 240;
const INTERVAL_MS = 20;
const OUTAGE_MS = 4_000;
const IN_FLIGHT_MS = 1_000;

describeEachBackend('fault: the billing database unreachable mid-stream (TCP proxy cut)', (backend) => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);

  // On the Postgres backend the queue stays reachable (its own connections do not go through the
  // proxy): this is the billing database's outage, not the queue's (queue-postgres-restarted).
  it('the worker pauses without spending attempts, resumes by itself, and applies everything', async () => {
    const s = await openScenario(`postgres_unavailable_${backend}`, { backend, cleanup });
    const target = new URL(s.db.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanup.defer('close the Postgres proxy', () => proxy.close());
    const viaProxy = new URL(s.db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;

    const histories = await historiesTotalling(s.db.sql, EVENTS);
    const events = interleaved(histories);
    const [ingress, worker] = await Promise.all([
      startIngress(cleanup, { queue: s.queueConfig, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, { databaseUrl: viaProxy.toString(), queue: s.queueConfig, queueName: s.queueName }),
    ]);

    // 1. The stream; once the worker is visibly applying it, Postgres "dies" for a few seconds.
    const deliveries: Delivery[] = [];
    const stream = paced(events, { intervalMs: INTERVAL_MS, maxInFlight: 16 }, async (event) => {
      const delivery = await deliver(ingress.port, event, s.secret);
      deliveries.push(delivery);
      return delivery;
    });
    await waitFor(async () => (await ledgerCount(s.db.sql)) >= EVENTS / 5, 'a fifth of the stream applied', 30_000, 5);
    proxy.cut();
    const cutAt = performance.now();
    // A COMMIT that reached Postgres before the cut still lands (it is answered to nobody): count
    // once such in-flight commits had time to become visible, then nothing more may be written.
    await sleep(IN_FLIGHT_MS);
    const ledgerAtCut = await ledgerCount(s.db.sql);
    await sleep(OUTAGE_MS - IN_FLIGHT_MS);
    const ledgerAtRestore = await ledgerCount(s.db.sql);
    await proxy.restore();
    const restoredAt = performance.now();
    await stream;

    // 2. The worker paused itself; once its probe finds Postgres again it takes the jobs back.
    const acknowledged = deliveries.filter((d) => d.status === 200).map((d) => d.eventId);
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 30_000, () => deadApp([worker]));
    const recoveredAfterMs = Math.round(performance.now() - restoredAt);

    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [worker] });
    const counts = await s.queue.getJobCounts('completed', 'failed', 'delayed', 'waiting', 'active');
    const completed: Array<Job<StripeEventJobData, StripeEventJobResult>> = await s.queue.getJobs(['completed'], 0, -1);
    // BullMQ counts the successful attempt too: attemptsMade > 1 means an attempt was spent on a failure.
    const spentAttempts = completed.filter((job) => job.attemptsMade > 1);
    const putBack = completed.filter((job) => job.attemptsStarted > job.attemptsMade);
    const failedAttempts = countLogs([worker], 'event failed; will retry with backoff');
    const pauses = countLogs([worker], /^postgres unreachable: the worker takes no jobs/);
    // Left unapplied: which jobs are still active, and whether a live worker still holds them (a
    // job its worker dropped comes back once its lock expires; one still held never does).
    const stillActive = settle.settled ? [] : await activeJobs(s.queue);
    console.log(
      figureLine(`postgres unavailable [${backend}]`, figures, {
        outage_ms: Math.round(restoredAt - cutAt),
        ledger_at_cut: ledgerAtCut,
        written_during_outage: ledgerAtRestore - ledgerAtCut,
        failed_attempts: failedAttempts,
        jobs_with_an_attempt_spent: spentAttempts.length,
        jobs_put_back_without_spending_one: putBack.length,
        worker_pauses: pauses,
        all_applied_ms_after_restore: settle.settled ? recoveredAfterMs : 'never',
        worker_alive: isAlive(worker),
        ...(!settle.settled && { still_active: stillActive }),
        outcomes: figures.outcomes,
        jobs: counts,
      }),
    );

    expect(settle.stopped, 'the worker must survive a Postgres outage').toBeUndefined();
    expect(deliveries.filter((d) => d.status !== 200)).toEqual([]); // the ingress never touches the billing database
    expect(ledgerAtCut).toBeLessThan(events.length);
    expect(ledgerAtRestore - ledgerAtCut).toBe(0); // the cut was total
    expect(putBack.length).toBeGreaterThan(0); // jobs did hit the outage…
    expect(pauses).toBeGreaterThan(0); // …the worker paused itself…
    expect([failedAttempts, spentAttempts.length]).toEqual([0, 0]); // …and no attempt was spent on it
    expect(isAlive(worker)).toBe(true);
    expect(settle.settled).toBe(true);
    expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
    expect(counts).toMatchObject({ completed: events.length, failed: 0, delayed: 0, waiting: 0, active: 0 });
    expect(countLogs([worker], /^ALERT/)).toBe(0);
    expect(await differencesFromStripe(s.db.sql, histories)).toEqual([]);
  }, 180_000);
});

/** The active jobs: id, starts, failures, and how long ago each was last taken. */
async function activeJobs(queue: EventQueue): Promise<Array<Record<string, unknown>>> {
  const jobs = await queue.getJobs(['active'], 0, 20);
  return jobs.map((job) => ({
    id: job.id,
    attemptsStarted: job.attemptsStarted,
    attemptsMade: job.attemptsMade,
    takenMsAgo: job.processedOn ? Date.now() - job.processedOn : null,
    stalledCounter: job.stalledCounter,
  }));
}

describe('fault: a Postgres connection dropped mid-transaction', () => {
  // The deterministic core of the crash above: one transaction, one dropped connection, the
  // worker's own client and `db.transaction`. It must reject (so the job retries), not kill the process.
  it('a transaction whose connection drops rejects, and the process survives', async () => {
    const result = await runScript('tests/faults/support/transaction-drop-probe.ts', [inject('adminDatabaseUrl')], {}, 30_000);
    const uncaught = result.stderr.match(/^\w*Error: .*$/m)?.[0] ?? 'none';
    console.log(
      `[fault] postgres connection dropped mid-transaction: exit_code=${result.status} ` +
        `stdout=${JSON.stringify(result.stdout.trim())} uncaught=${JSON.stringify(uncaught)}`,
    );
    expect(result.stdout).toMatch(/^rejected: /m);
    expect(result.status, `the process died:\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/^survived$/m);
  }, 40_000);
});
