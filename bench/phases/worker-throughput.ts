import type { StripeEvent } from '@billing/stripe-simulator/events';
import { startWorkerProcess, type WorkerProcessOptions } from '../harness/app-processes';
import type { BenchProcess } from '../harness/child-process';
import { backendPids, outcomes, resetBillingTables, waitForLedger, type BenchDatabase } from '../harness/database';
import { localRedisPid } from '../harness/machine';
import { round } from '../report/round';
import { sampleMemory, type MemoryWindow } from '../harness/memory';
import { cpuMeter } from '../harness/process-cpu';
import { settings, type QueueBackendName } from '../settings';
import { scrapeWorkers } from '../harness/worker-metrics';
import { openBenchQueue, type BenchQueue } from '../harness/worker-queue';

export interface DrainResult {
  /** Where the queue was. */
  backend: QueueBackendName;
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
  /** Worker log lines at warn or above during the drain (should be 0). */
  logProblems: number;
  /** Postgres transactions the events were applied in, and events per transaction on average (worker metrics). */
  batches: number;
  meanBatchSize: number;
  /** CPU time of the worker process(es) per event (ms). */
  workerCpuMsPerEvent: number;
  /** CPU time of this database's Postgres backends per event (ms). */
  postgresCpuMsPerEvent: number;
  /** CPU time of the local Redis server per event (ms); shared with whatever else uses it. */
  redisCpuMsPerEvent: number;
  /** Per worker process, over this drain. */
  memory: MemoryWindow[];
  /** Events/s over each fifth of the events, in order: a rate that falls as the drain goes on shows here. */
  fifths: number[];
}

/** Events/s over each fifth of `total`, from (time, ledger count) samples starting at `start`. */
export function fifthRates(samples: ReadonlyArray<[number, number]>, start: number, total: number): number[] {
  const rates: number[] = [];
  let from: [number, number] = [start, 0];
  for (let k = 1; k <= 5; k += 1) {
    const target = Math.ceil((total * k) / 5);
    const reached = samples.find(([, count]) => count >= target);
    if (!reached) break;
    rates.push(round((reached[1] - from[1]) / Math.max(0.001, (reached[0] - from[0]) / 1000)));
    from = reached;
  }
  return rates;
}

export interface WorkerFleet {
  processes: BenchProcess[];
  queue: BenchQueue;
  /** Puts `events` in the (paused) queue, releases it and times until the ledger holds them all. */
  drain: (events: readonly StripeEvent[]) => Promise<DrainResult>;
  stop: () => Promise<void>;
}

/** Starts `workers` worker processes at `concurrency` each on a fresh queue of their own (on Redis unless `options.backend` says otherwise). */
export async function startWorkers(
  database: BenchDatabase,
  queueName: string,
  workers: number,
  concurrency: number,
  options: Omit<WorkerProcessOptions, 'name'> = {},
): Promise<WorkerFleet> {
  const queue = openBenchQueue(queueName, options.backend);
  await queue.queue.pause();
  const processes: BenchProcess[] = [];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop(10_000)));
    await queue.drop();
  };
  try {
    for (let i = 0; i < workers; i += 1)
      processes.push(await startWorkerProcess(database, queueName, concurrency, { ...options, name: `worker-${i + 1}` }));
  } catch (error) {
    await stop();
    throw error;
  }
  const redisPid = await localRedisPid(settings.redisUrl);
  const samplers = processes.map((p) => sampleMemory(p.pid));
  for (const s of samplers) s.window();

  const drain = async (events: readonly StripeEvent[]): Promise<DrainResult> => {
    await resetBillingTables(database.sql);
    await queue.fillPaused(events);
    for (const s of samplers) s.window();
    const before = await scrapeWorkers(processes);
    const problemsBefore = processes.reduce((n, p) => n + p.logProblems(), 0);
    const cpu = cpuMeter(processes.map((p) => p.pid));
    const postgresCpu = cpuMeter(await backendPids(database.sql));
    const redisCpu = cpuMeter(redisPid === undefined ? [] : [redisPid]);
    const started = performance.now();
    await queue.resume();
    const samples: Array<[number, number]> = [];
    const finished = await waitForLedger(database.sql, events.length, settings.worker.drainTimeoutMs, 20, (count, at) =>
      samples.push([at, count]),
    );
    const seconds = (finished - started) / 1000;
    const workerCpuMs = cpu();
    const postgresCpuMs = postgresCpu();
    const redisCpuMs = redisCpu();
    const counts = await queue.counts();
    const after = await scrapeWorkers(processes);
    const batches = after.batches - before.batches;
    return {
      backend: options.backend?.name ?? 'redis',
      workers,
      concurrency,
      events: events.length,
      seconds: round(seconds, 2),
      eventsPerSec: round(events.length / seconds),
      outcomes: await outcomes(database.sql),
      retries: after.retries - before.retries,
      failed: Math.max(counts.failed ?? 0, after.finalFailures - before.finalFailures),
      logProblems: processes.reduce((n, p) => n + p.logProblems(), 0) - problemsBefore,
      batches,
      meanBatchSize: round((after.batchedEvents - before.batchedEvents) / Math.max(1, batches)),
      workerCpuMsPerEvent: round(workerCpuMs / events.length, 3),
      postgresCpuMsPerEvent: round(postgresCpuMs / events.length, 3),
      redisCpuMsPerEvent: round(redisCpuMs / events.length, 3),
      memory: samplers.map((s) => s.window()),
      fifths: fifthRates(samples, started, events.length),
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
  options: Omit<WorkerProcessOptions, 'name'> = {},
): Promise<DrainResult> {
  const fleet = await startWorkers(database, queueName, workers, concurrency, options);
  try {
    if (warmup.length > 0) await fleet.drain(warmup);
    return await fleet.drain(events);
  } finally {
    await fleet.stop();
  }
}
