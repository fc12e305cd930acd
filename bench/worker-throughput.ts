import type { StripeEvent } from '@billing/testing/stripe-events';
import { startProcess, type BenchProcess } from './child-process';
import { backendPids, outcomes, resetBillingTables, waitForLedger, type BenchDatabase } from './database';
import { round } from './round';
import { sampleMemory, type MemoryWindow } from './memory';
import { cpuMeter } from './process-cpu';
import { settings } from './settings';
import { openBenchQueue, type BenchQueue } from './worker-queue';

export interface DrainResult {
  workers: number;
  concurrency: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  outcomes: Record<string, number>;
  /** Failed attempts that BullMQ will retry (deadlocks, unique clashes…), from the workers' metrics. */
  retries: number;
  /** Jobs left failed for good (should be 0). */
  failed: number;
  /** CPU time of the worker process(es) per event (ms). */
  workerCpuMsPerEvent: number;
  /** CPU time of this database's Postgres backends per event (ms). */
  postgresCpuMsPerEvent: number;
  /** Per worker process, over this drain. */
  memory: MemoryWindow[];
}

export interface WorkerFleet {
  processes: BenchProcess[];
  queue: BenchQueue;
  /** Puts `events` in the (paused) queue, releases it and times until the ledger holds them all. */
  drain: (events: readonly StripeEvent[]) => Promise<DrainResult>;
  stop: () => Promise<void>;
}

/** Starts `workers` worker processes at `concurrency` each on a fresh queue of their own. */
export async function startWorkers(
  database: BenchDatabase,
  queueName: string,
  workers: number,
  concurrency: number,
  nodeArgs: string[] = [],
): Promise<WorkerFleet> {
  const queue = openBenchQueue(queueName);
  await queue.queue.pause();
  const processes: BenchProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop(10_000)));
    await queue.drop();
  };
  try {
    for (let i = 0; i < workers; i += 1) {
      processes.push(
        await startProcess(
          `worker-${i + 1}`,
          'apps/worker/src/server.ts',
          {
            DATABASE_URL: database.url,
            REDIS_URL: settings.redisUrl,
            QUEUE_NAME: queueName,
            WORKER_CONCURRENCY: String(concurrency),
            WORKER_METRICS_PORT: '0',
            LOG_LEVEL: settings.logLevel,
          },
          /"msg":"worker ready"/,
          { nodeArgs },
        ),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const samplers = processes.map((p) => sampleMemory(p.pid));
  for (const s of samplers) s.window();

  const drain = async (events: readonly StripeEvent[]): Promise<DrainResult> => {
    await resetBillingTables(database.sql);
    await queue.fillPaused(events);
    for (const s of samplers) s.window();
    const retriesBefore = await retries(processes);
    const cpu = cpuMeter(processes.map((p) => p.pid));
    const postgresCpu = cpuMeter(await backendPids(database.sql));
    const started = performance.now();
    await queue.resume();
    const finished = await waitForLedger(database.sql, events.length, settings.worker.drainTimeoutMs);
    const seconds = (finished - started) / 1000;
    const workerCpuMs = cpu();
    const postgresCpuMs = postgresCpu();
    const counts = await queue.counts();
    return {
      workers,
      concurrency,
      events: events.length,
      seconds: round(seconds, 2),
      eventsPerSec: round(events.length / seconds),
      outcomes: await outcomes(database.sql),
      retries: (await retries(processes)) - retriesBefore,
      failed: counts.failed ?? 0,
      workerCpuMsPerEvent: round(workerCpuMs / events.length, 3),
      postgresCpuMsPerEvent: round(postgresCpuMs / events.length, 3),
      memory: samplers.map((s) => s.window()),
    };
  };

  return {
    processes,
    queue,
    drain,
    stop: async () => {
      for (const s of samplers) s.stop();
      await stop();
    },
  };
}

/**
 * One measured drain on a fleet started for it (after a warm-up drain of `warmup` events, as a
 * long-running worker is warm), then stopped.
 */
export async function drainOnce(
  database: BenchDatabase,
  queueName: string,
  events: readonly StripeEvent[],
  workers: number,
  concurrency: number,
  warmup: readonly StripeEvent[],
): Promise<DrainResult> {
  const fleet = await startWorkers(database, queueName, workers, concurrency);
  try {
    if (warmup.length > 0) await fleet.drain(warmup);
    return await fleet.drain(events);
  } finally {
    await fleet.stop();
  }
}

/** Sum of `billing_worker_failures_total{kind="retry"}` over the workers' /metrics. */
async function retries(processes: readonly BenchProcess[]): Promise<number> {
  let total = 0;
  for (const p of processes) {
    const url = /"metrics":"([^"]+)"/.exec(p.readyLine)?.[1];
    if (!url) continue;
    try {
      const text = await (await fetch(url)).text();
      for (const m of text.matchAll(/^billing_worker_failures_total\{[^}]*kind="retry"[^}]*\} (\d+)/gm)) total += Number(m[1]);
    } catch {
      // Metrics are a diagnostic here; a failed scrape must not fail the bench.
    }
  }
  return total;
}
