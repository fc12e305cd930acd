import type { QueueConfig } from '@billing/queue';
import type { AppProcess } from '@billing/testing/processes';
import { startTcpProxy } from '@billing/testing/tcp-proxy';
import { waitFor } from '@billing/testing/wait-for';
import { afterAll, describe, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { setTimeout as sleep } from 'node:timers/promises';
import { paced } from '@billing/testing/faults/concurrency';
import pLimit from 'p-limit';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { countLogs, deadApp, isAlive, logLines, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, httpRequest, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { waitForSettled } from '@billing/testing/faults/settle';
import { differencesFromStripe, historiesTotalling, interleaved } from '@billing/testing/faults/subscriptions';

const EVENTS = 300;
/** 40 webhooks a second: the outage below lands mid-stream and lasts long enough to be hit many times. */
const INTERVAL_MS = 25;
const OUTAGE_MS = 3_000;
/** docs/design.md: 503 when the queue does not acknowledge within ≈2 s; allow scheduling slack on a busy 2-core box. */
const ANSWER_BOUND_MS = 3_500;
/** The ingress opens a new connection per write once the old ones are gone: back to 200 within this after Postgres is. */
const RECOVERY_BOUND_MS = 2_500;

const cleanup = createCleanupStack();
afterAll(() => cleanup.runAll(), 60_000);

/**
 * The Postgres backend's counterpart of redis-restarted: the queue's Postgres goes away in the
 * middle of a stream and comes back. The shared Postgres on 127.0.0.1:5432 cannot be restarted
 * (other test files use it), so the apps reach the queue's database through a TCP proxy that does
 * to them what an immediate restart (`pg_ctl restart -m immediate`) does: every open connection of
 * both apps dropped at once (their transactions roll back on the server), then the port not
 * listening — connecting fails with ECONNREFUSED — until it is back. What the apps cannot see, the
 * server's own crash recovery, is Postgres's promise, not ours. The worker's billing database stays
 * reachable (direct), and so does the test's own view of the queue.
 */
describe('fault: the queue’s Postgres restarted mid-stream (Postgres backend; connections dropped, then refused, then accepted again)', () => {
  it('answers 503 while it is away, never 200; every 200 is applied; both processes recover by themselves', async () => {
    const s = await openScenario('queue_postgres_restarted', { backend: 'postgres', cleanup });
    const target = new URL(s.db.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanup.defer('close the queue proxy', () => proxy.close());
    const viaProxy = new URL(s.db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const queue = { ...s.queueConfig, url: viaProxy.toString() } as QueueConfig;

    const histories = await historiesTotalling(s.db.sql, EVENTS);
    const events = interleaved(histories);
    const [ingress, worker] = await Promise.all([
      startIngress(cleanup, { queue, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, { databaseUrl: s.db.url, queue, queueName: s.queueName }),
    ]);
    const pids = { ingress: ingress.app.child.pid, worker: worker.child.pid };

    // 1. The stream, and the outage in its middle.
    const deliveries: Delivery[] = [];
    const outage = { downAt: 0, upAt: 0 };
    const stream = paced(events, { intervalMs: INTERVAL_MS, maxInFlight: 32 }, async (event) => {
      const delivery = await deliver(ingress.port, event, s.secret);
      deliveries.push(delivery);
      return delivery;
    });
    await waitFor(() => deliveries.length >= EVENTS / 4, 'a quarter of the stream answered', 30_000, 5);
    proxy.cut({ refuse: true });
    outage.downAt = performance.now();
    await sleep(OUTAGE_MS);
    await proxy.restore();
    outage.upAt = performance.now();
    const upAtWall = Date.now();
    const firstTry = await stream;

    // 2. Stripe retries what was not acknowledged; so does this test, a few rounds at most.
    let redelivered = 0;
    for (let round = 0; round < 10; round += 1) {
      const acknowledged = new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId));
      const missing = events.filter((e) => !acknowledged.has(e.id));
      if (missing.length === 0) break;
      redelivered += missing.length;
      await pLimit(8).map(missing, async (event) => {
        deliveries.push(await deliver(ingress.port, event, s.secret));
      });
      await sleep(500);
    }

    const acknowledged = [...new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId))];
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([worker, ingress.app]));
    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [worker] });
    const counts = await s.queue.getJobCounts('completed', 'failed');
    const ready = await httpRequest({ port: ingress.port, method: 'GET', path: '/readyz' });

    // Entirely inside the outage: sent after the cut, answered before the restore.
    const inside = deliveries.filter((d) => d.startedAt >= outage.downAt && d.endedAt <= outage.upAt);
    const overlapping = deliveries.filter((d) => d.endedAt > outage.downAt && d.startedAt < outage.upAt && !inside.includes(d));
    const afterRestart = firstTry.filter((d) => d.startedAt > outage.upAt);
    const recovered = afterRestart.filter((d) => d.startedAt > outage.upAt + RECOVERY_BOUND_MS);
    const lastRefusal = Math.max(outage.upAt, ...afterRestart.filter((d) => d.status !== 200).map((d) => d.endedAt));
    const statusCounts = (list: Delivery[]) =>
      list.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d.status]: (acc[d.status] ?? 0) + 1 }), {});
    const slowest = Math.round(Math.max(0, ...deliveries.map((d) => d.endedAt - d.startedAt)));
    const stalled = countLogs([worker], 'job stalled (a worker died or blocked); it will run again');
    // From the restore to the worker's first commit after it (log times are wall-clock ms).
    const firstAfter = logLines(worker).find((l) => l.msg === 'event processed' && Number(l.time) >= upAtWall);
    const workerBackMs = firstAfter ? Number(firstAfter.time) - upAtWall : 'never';
    console.log(
      figureLine('queue postgres restarted [postgres]', figures, {
        outage_ms: Math.round(outage.upAt - outage.downAt),
        inside_outage: statusCounts(inside),
        overlapping_outage: statusCounts(overlapping),
        first_try: statusCounts(firstTry),
        after_restart_first_try: statusCounts(afterRestart),
        ingress_recovery_ms: Math.round(lastRefusal - outage.upAt),
        worker_back_ms: workerBackMs,
        redelivered,
        slowest_answer_ms: slowest,
        worker_error_lines: countLogs([worker], 'worker error'),
        worker_errors: errorsByMessage(worker),
        stalled_jobs_recovered: stalled,
        settled_ms: settle.ms,
        outcomes: figures.outcomes,
        jobs: counts,
      }),
    );

    expect(inside.length).toBeGreaterThan(0); // the outage was really hit
    expect(inside.filter((d) => d.status < 500)).toEqual([]); // never 200 (nor any non-5xx) while the queue is away
    expect(deliveries.filter((d) => d.status !== 200 && d.status !== 503)).toEqual([]);
    expect(slowest).toBeLessThanOrEqual(ANSWER_BOUND_MS);
    expect(recovered.length).toBeGreaterThan(0);
    expect(recovered.filter((d) => d.status !== 200)).toEqual([]); // the ingress recovered without a restart
    expect(lastRefusal - outage.upAt).toBeLessThanOrEqual(RECOVERY_BOUND_MS);
    expect(isAlive(ingress.app) && isAlive(worker)).toBe(true);
    expect({ ingress: ingress.app.child.pid, worker: worker.child.pid }).toEqual(pids);
    expect(ready.status).toBe(200);
    expect(settle.stopped).toBeUndefined();
    expect(settle.settled).toBe(true); // the worker took jobs again by itself
    expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
    expect(counts.failed).toBe(0);
    expect(countLogs([worker], /^ALERT/)).toBe(0);
    expect(await differencesFromStripe(s.db.sql, histories)).toEqual([]);
  }, 150_000);
});

/** The worker's `worker error` lines by message (digits folded), so a retry loop shows what it retries. */
function errorsByMessage(worker: AppProcess): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of logLines(worker)) {
    if (line.msg !== 'worker error') continue;
    const message = String((line.err as { message?: string } | undefined)?.message ?? line.err).replace(/\d+/g, 'N');
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}
