import http from 'node:http';
import type { StripeEvent } from '@billing/stripe-simulator/events';
import { startIngress, startWorkerProcess } from '../harness/app-processes';
import type { BenchProcess } from '../harness/child-process';
import { resetBillingTables, waitForLedger, type BenchDatabase } from '../harness/database';
import { round } from '../report/round';
import { sampleMemory, type MemoryWindow } from '../harness/memory';
import { postDelivery } from '../harness/http-post';
import { settings, WEBHOOK_SECRET } from '../settings';
import { signRequests, type SignedRequests } from '../harness/signed-requests';
import { openBenchQueue } from '../harness/worker-queue';

export interface LatencyResult {
  offeredPerSec: number;
  achievedPerSec: number;
  sent: number;
  non2xx: number;
  /** POST sent → row in the ledger (`webhook_events.processed_at`). */
  endToEnd: { p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };
  /** POST sent → 200 from the ingress, under this steady load. */
  acknowledgement: { p50Ms: number; p99Ms: number };
  ingressMemory: MemoryWindow;
  workerMemory: MemoryWindow;
}

/**
 * Issue item 2, latency: an ingress and one worker (default concurrency) on a fresh queue, a
 * paced open-loop sender POSTing signed events at `ratePerSec` (not waiting for answers before
 * sending the next) — first a few seconds to warm both processes up, then the measured run —
 * then each measured event's applied time read back from the ledger. `processed_at`
 * is Postgres `now()`, i.e. the start of the applying transaction, so the figure leaves out that
 * transaction's own few milliseconds.
 */
export async function benchLatency(
  database: BenchDatabase,
  events: readonly StripeEvent[],
  ratePerSec: number,
  queueName: string,
): Promise<LatencyResult> {
  await resetBillingTables(database.sql);
  const queue = openBenchQueue(queueName);
  const processes: BenchProcess[] = [];
  try {
    const { process: ingress, port } = await startIngress(queueName);
    processes.push(ingress);
    const worker = await startWorkerProcess(database, queueName, settings.worker.defaultConcurrency);
    processes.push(worker);
    const ingressMemory = sampleMemory(ingress.pid);
    const workerMemory = sampleMemory(worker.pid);

    // 1. Warm-up at the same rate (JIT, pools, connections), applied, then the measured run.
    const warmup = Math.min(Math.round(ratePerSec * settings.latency.warmupSeconds), Math.floor(events.length / 3));
    const count = Math.min(events.length - warmup, Math.max(1, Math.round(ratePerSec * settings.latency.durationSeconds)));
    const warm = await sendPaced(port, signRequests(events.slice(0, warmup), warmup, WEBHOOK_SECRET), ratePerSec);
    await waitForLedger(database.sql, warmup - warm.non2xx, settings.worker.drainTimeoutMs);
    const measured = signRequests(events.slice(warmup, warmup + count), count, WEBHOOK_SECRET);
    const run = await sendPaced(port, measured, ratePerSec);

    // 2. Every event applied, then applied time minus send time, per event.
    await waitForLedger(database.sql, warmup - warm.non2xx + count - run.non2xx, settings.worker.drainTimeoutMs);
    const rows = await database.sql<{ id: string; ms: number }[]>`
      select stripe_event_id as id, extract(epoch from processed_at) * 1000 as ms
      from webhook_events where stripe_event_id in ${database.sql(measured.ids)}`;
    const e2e = rows.map((r) => Number(r.ms) - (run.sentAt.get(r.id) ?? NaN)).filter(Number.isFinite);
    const { non2xx, ackMs } = run;
    return {
      offeredPerSec: round(ratePerSec),
      achievedPerSec: round(count / run.seconds),
      sent: count,
      non2xx,
      endToEnd: { p50Ms: pct(e2e, 50), p90Ms: pct(e2e, 90), p99Ms: pct(e2e, 99), maxMs: pct(e2e, 100) },
      acknowledgement: { p50Ms: pct(ackMs, 50), p99Ms: pct(ackMs, 99) },
      ingressMemory: ingressMemory.stop(),
      workerMemory: workerMemory.stop(),
    };
  } finally {
    for (const p of processes) await p.stop(10_000);
    await queue.drop();
  }
}

interface PacedRun {
  /** Wall-clock send time (ms since the epoch, as Postgres' now()) by event id. */
  sentAt: Map<string, number>;
  ackMs: number[];
  non2xx: number;
  seconds: number;
}

/** Open loop: every tick, sends whatever the schedule says is due, without waiting for answers. */
async function sendPaced(port: number, pool: SignedRequests, ratePerSec: number): Promise<PacedRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const sentAt = new Map<string, number>();
  const ackMs: number[] = [];
  let non2xx = 0;
  const inFlight: Promise<void>[] = [];
  const started = performance.now();
  let sent = 0;
  while (sent < pool.ids.length) {
    const due = Math.min(pool.ids.length, Math.floor(((performance.now() - started) / 1000) * ratePerSec) + 1);
    for (; sent < due; sent += 1) {
      const i = sent;
      const t0 = performance.now();
      sentAt.set(pool.ids[i] as string, Date.now());
      inFlight.push(
        postDelivery(agent, port, pool.bodies[i] as Buffer, pool.signatures[i] as string).then((status) => {
          ackMs.push(performance.now() - t0);
          if (status < 200 || status > 299) non2xx += 1;
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { sentAt, ackMs, non2xx, seconds };
}

export function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round(sorted[index] as number);
}
