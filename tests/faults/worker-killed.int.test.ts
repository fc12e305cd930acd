import { startTcpProxy } from '@billing/testing/tcp-proxy';
import { describeEachBackend } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import { afterAll, expect, it } from 'vitest';
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
/** Kill once this many events are in the ledger: well inside the stream. */
const KILL_AFTER = 200;
/** Jobs the first worker must hold (active, its transactions in flight) when it is killed. */
const HELD_AT_KILL = 10;

describeEachBackend('fault: worker SIGKILLed mid-stream', (backend) => {
  const cleanup = createCleanupStack();
  afterAll(() => cleanup.runAll(), 60_000);

  it('a new worker takes back the jobs the dead one held; every acknowledged event applied exactly once', async () => {
    const s = await openScenario(`worker_killed_${backend}`, { backend, cleanup });
    // The first worker reaches its billing database through a proxy the test can freeze (its
    // transactions then hang, unanswered, as on a slow or stuck database). The queue's own
    // connections (Redis, or the queue schema on Postgres) do not go through it.
    const target = new URL(s.db.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanup.defer('close the Postgres proxy', () => proxy.close());
    const viaProxy = new URL(s.db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;

    const histories = await historiesTotalling(s.db.sql, EVENTS);
    const events = interleaved(histories);
    const [ingress, first] = await Promise.all([
      startIngress(cleanup, { queue: s.queueConfig, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, { databaseUrl: viaProxy.toString(), queue: s.queueConfig, queueName: s.queueName, lockDurationMs: 3_000 }),
    ]);

    // 1. Stream the events while the first worker applies them.
    const deliveries: Delivery[] = [];
    const posting = pLimit(16).map(events, async (event) => {
      const delivery = await deliver(ingress.port, event, s.secret);
      deliveries.push(delivery);
      return delivery;
    });

    // 2. Mid-stream, freeze its database link: nothing it sends reaches Postgres any more, so the
    //    jobs it has taken stay active (their locks renewed) while the stream keeps feeding it. Kill
    //    it once it holds several: this precondition no longer depends on the worker happening to be
    //    busy at one instant (it could drain everything fed so far by then).
    await waitFor(async () => (await ledgerCount(s.db.sql)) >= KILL_AFTER, `${KILL_AFTER} events in the ledger`, 60_000, 5);
    proxy.freeze();
    await waitFor(
      async () => ((await s.queue.getJobCounts('active')).active ?? 0) >= HELD_AT_KILL,
      `${HELD_AT_KILL} jobs active in the frozen worker`,
      20_000,
      20,
    ).catch(() => undefined); // the assertions below report what was reached
    const activeAtKill = (await s.queue.getJobCounts('active')).active ?? 0;
    // SIGKILL: no shutdown hook runs; its open transactions die with its connections (rolled back),
    // and its active jobs keep their locks until they expire.
    first.child.kill('SIGKILL');
    await first.exited;
    const ledgerAtKill = await ledgerCount(s.db.sql);
    // Nothing else runs a worker now: every job still active belongs to the dead one.
    const orphaned = (await s.queue.getJobCounts('active')).active ?? 0;

    // 3. A new worker (direct to Postgres) takes over; the dead one's jobs come back once their
    //    locks expire and its stalled check runs (3 s each).
    const second = await startWorker(cleanup, {
      databaseUrl: s.db.url,
      queue: s.queueConfig,
      queueName: s.queueName,
      lockDurationMs: 3_000,
    });
    await posting;
    const acknowledged = deliveries.filter((d) => d.status === 200).map((d) => d.eventId);
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([second, ingress.app]));

    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [first, second] });
    const rows = await subscriptionRowCounts(s.db.sql);
    const counts = await s.queue.getJobCounts('completed', 'failed');
    const stalled = countLogs([second], 'job stalled (a worker died or blocked); it will run again');
    const rerunAfterCommit = logLines(second).filter((l) => l.msg === 'event processed' && l.outcome === 'duplicate').length;
    console.log(
      figureLine(`worker killed [${backend}]`, figures, {
        ledger_at_kill: ledgerAtKill,
        active_at_kill: activeAtKill,
        orphaned_by_the_kill: orphaned,
        stalled_jobs_recovered: stalled,
        reruns_absorbed_by_ledger: rerunAfterCommit,
        settled_ms: settle.ms,
        outcomes: figures.outcomes,
        jobs: counts,
      }),
    );

    expect(deliveries.map((d) => d.status).filter((status) => status !== 200)).toEqual([]);
    expect(ledgerAtKill).toBeLessThan(events.length); // the kill really landed mid-stream…
    expect(activeAtKill).toBeGreaterThan(0); // …while the worker held jobs…
    expect(orphaned).toBeGreaterThan(0); // …that it left active when it died…
    expect(stalled).toBeGreaterThan(0); // …and that came back as stalled
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
