// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { waitFor } from '@billing/testing/wait-for';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import pLimit from 'p-limit';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { countLogs, deadApp, logLines, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { ledgerCount, waitForSettled } from '@billing/testing/faults/settle';
import {
  differencesFromStripe,
  historiesTotalling,
  interleaved,
  subscriptionCount,
  subscriptionRowCounts,
} from '@billing/testing/faults/subscriptions';

const EVENTS = 500;
/** Kill once this many events are in the ledger: well inside the batch. */
const KILL_AFTER = 200;

const cleanup = createCleanupStack();
afterAll(() => cleanup.runAll(), 60_000);

describe('fault: worker SIGKILLed mid-batch', () => {
  it('a new worker finishes the batch; every acknowledged event applied exactly once', async () => {
    const redisUrl = inject('redisUrl');
    const s = await openScenario('worker_killed', { redisUrl, cleanup });
    const histories = await historiesTotalling(s.db.sql, EVENTS);
    const events = interleaved(histories);
    const workerOptions = { databaseUrl: s.db.url, redisUrl, queueName: s.queueName, lockDurationMs: 3_000 };
    const [ingress, first] = await Promise.all([
      startIngress(cleanup, { redisUrl, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, workerOptions),
    ]);

    // 1. Stream the batch while the first worker applies it.
    const deliveries: Delivery[] = [];
    const posting = pLimit(16).map(events, async (event) => {
      const delivery = await deliver(ingress.port, event, s.secret);
      deliveries.push(delivery);
      return delivery;
    });

    // 2. SIGKILL it mid-batch: no shutdown hook runs, its active jobs keep their locks until they expire.
    await waitFor(async () => (await ledgerCount(s.db.sql)) >= KILL_AFTER, `${KILL_AFTER} events in the ledger`, 60_000, 5);
    const activeAtKill = (await s.queue.getJobCounts('active')).active ?? 0;
    first.child.kill('SIGKILL');
    await first.exited;
    const ledgerAtKill = await ledgerCount(s.db.sql);

    // 3. A new worker takes over; the dead one's jobs come back once their locks expire (3 s).
    const second = await startWorker(cleanup, workerOptions);
    await posting;
    const acknowledged = deliveries.filter((d) => d.status === 200).map((d) => d.eventId);
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([second, ingress.app]));

    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [first, second] });
    const rows = await subscriptionRowCounts(s.db.sql);
    const counts = await s.queue.getJobCounts('completed', 'failed');
    const stalled = countLogs([second], 'job stalled (a worker died or blocked); it will run again');
    const rerunAfterCommit = logLines(second).filter((l) => l.msg === 'event processed' && l.outcome === 'duplicate').length;
    console.log(
      figureLine('worker killed', figures, {
        ledger_at_kill: ledgerAtKill,
        active_at_kill: activeAtKill,
        stalled_jobs_recovered: stalled,
        reruns_absorbed_by_ledger: rerunAfterCommit,
        settled_ms: settle.ms,
        outcomes: figures.outcomes,
        jobs: counts,
      }),
    );

    expect(deliveries.map((d) => d.status).filter((status) => status !== 200)).toEqual([]);
    expect(ledgerAtKill).toBeLessThan(events.length); // the kill really landed mid-batch
    expect(activeAtKill).toBeGreaterThan(0);
    expect(settle.stopped).toBeUndefined();
    expect(settle.settled).toBe(true);
    expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
    expect(figures.lostIds).toEqual([]);
    expect(figures.twiceIds).toEqual([]);
    expect(await ledgerCount(s.db.sql)).toBe(events.length);
    expect(rows).toEqual({ rows: subscriptionCount(histories), distinct: subscriptionCount(histories) });
    expect(counts).toMatchObject({ completed: events.length, failed: 0 });
    expect(await differencesFromStripe(s.db.sql, histories)).toEqual([]);
  }, 150_000);
});
