import http from 'node:http';
import { freePort } from '@billing/testing/ports';
import type { StripeEvent } from '@billing/stripe-simulator/events';
import { startIngress, startWorkerProcess } from '../harness/app-processes';
import { startProcess, type BenchProcess } from '../harness/child-process';
import { backendPids, outcomes, resetBillingTables, waitForLedger, type BenchDatabase } from '../harness/database';
import { postDelivery } from '../harness/http-post';
import { pct } from './latency';
import { localRedisPid } from '../harness/machine';
import { sampleMemory, type MemoryWindow } from '../harness/memory';
import { cpuMeter } from '../harness/process-cpu';
import { round } from '../report/round';
import { settings, WEBHOOK_SECRET } from '../settings';
import { signRequests } from '../harness/signed-requests';
import { scrapeWorkers } from '../harness/worker-metrics';
import { openBenchQueue } from '../harness/worker-queue';
import { redisBackend, type BenchBackend } from '../harness/queue-backend';

export interface BurstResult {
  /** `sync`: the synchronous reference; `queued`: ingress + worker. */
  kind: 'sync' | 'queued';
  events: number;
  inFlight: number;
  /** First request sent → last answer received. */
  acknowledgedSeconds: number;
  /** First request sent → the ledger holds every event. */
  appliedSeconds: number;
  /** Events applied per second, end to end. */
  eventsPerSec: number;
  non2xx: number;
  ack: { p50Ms: number; p99Ms: number };
  outcomes: Record<string, number>;
  /** Jobs failed for good (queued only; must be 0). */
  failed: number;
  /** Log lines at warn or above of the processes under test during the burst (should be 0). */
  logProblems: number;
  /** Events per Postgres transaction on average (queued: the worker's batches; sync: 1). */
  meanBatchSize: number;
  /** CPU per event (ms) of each process involved. */
  cpuMsPerEvent: { server: number; worker: number; postgres: number; redis: number };
  memory: { server: MemoryWindow; worker?: MemoryWindow };
}

/** Every delivery of `events`, `inFlight` at a time, each sent as soon as one is answered. */
async function fireBurst(port: number, events: readonly StripeEvent[], inFlight: number) {
  const pool = signRequests(events, events.length, WEBHOOK_SECRET);
  const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
  const ackMs: number[] = [];
  let non2xx = 0;
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < pool.ids.length; i = next++) {
      const t0 = performance.now();
      const status = await postDelivery(agent, port, pool.bodies[i] as Buffer, pool.signatures[i] as string);
      ackMs.push(performance.now() - t0);
      if (status < 200 || status > 299) non2xx += 1;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, loop));
  agent.destroy();
  return { ackMs, non2xx };
}

interface Subject {
  kind: BurstResult['kind'];
  port: number;
  server: BenchProcess;
  worker?: BenchProcess;
}

/** A burst whose events are applied and then discarded: JIT, pools and connections warm. */
async function warm(database: BenchDatabase, subject: Subject, warmup: readonly StripeEvent[]): Promise<void> {
  await resetBillingTables(database.sql);
  const { non2xx } = await fireBurst(subject.port, warmup, settings.burst.inFlight);
  await waitForLedger(database.sql, warmup.length - non2xx, settings.worker.drainTimeoutMs);
}

/** One measured burst from empty billing tables, timed until the ledger holds every event. */
async function measure(database: BenchDatabase, subject: Subject, events: readonly StripeEvent[]): Promise<BurstResult> {
  const { inFlight } = settings.burst;
  await resetBillingTables(database.sql);
  const processes = [subject.server, subject.worker].filter((p): p is BenchProcess => p !== undefined);
  const memory = processes.map((p) => sampleMemory(p.pid));
  const metricsBefore = await scrapeWorkers(subject.worker ? [subject.worker] : []);
  const problems = () => processes.reduce((n, p) => n + p.logProblems(), 0);
  const problemsBefore = problems();
  const redisPid = await localRedisPid(settings.redisUrl);
  const serverCpu = cpuMeter([subject.server.pid]);
  const workerCpu = cpuMeter(subject.worker ? [subject.worker.pid] : []);
  const postgresCpu = cpuMeter(await backendPids(database.sql));
  const redisCpu = cpuMeter(redisPid === undefined ? [] : [redisPid]);

  const started = performance.now();
  const { ackMs, non2xx } = await fireBurst(subject.port, events, inFlight);
  const acknowledged = performance.now();
  const applied = await waitForLedger(database.sql, events.length - non2xx, settings.worker.drainTimeoutMs, 10);
  const perEvent = (ms: number) => round(ms / events.length, 3);
  const cpuMsPerEvent = {
    server: perEvent(serverCpu()),
    worker: perEvent(workerCpu()),
    postgres: perEvent(postgresCpu()),
    redis: perEvent(redisCpu()),
  };
  const metricsAfter = await scrapeWorkers(subject.worker ? [subject.worker] : []);
  const batches = metricsAfter.batches - metricsBefore.batches;
  const [serverMemory, workerMemory] = memory.map((m) => m.stop()) as [MemoryWindow, MemoryWindow | undefined];
  return {
    kind: subject.kind,
    events: events.length,
    inFlight,
    acknowledgedSeconds: round((acknowledged - started) / 1000, 2),
    appliedSeconds: round((applied - started) / 1000, 2),
    eventsPerSec: round(events.length / ((applied - started) / 1000)),
    non2xx,
    ack: { p50Ms: pct(ackMs, 50), p99Ms: pct(ackMs, 99) },
    outcomes: await outcomes(database.sql),
    failed: metricsAfter.finalFailures - metricsBefore.finalFailures,
    logProblems: problems() - problemsBefore,
    meanBatchSize: subject.worker ? round((metricsAfter.batchedEvents - metricsBefore.batchedEvents) / Math.max(1, batches)) : 1,
    cpuMsPerEvent,
    memory: { server: serverMemory, ...(workerMemory && { worker: workerMemory }) },
  };
}

export interface BurstComparison {
  /** The median round of each (by events/s). */
  sync: BurstResult;
  queued: BurstResult;
  /** Median queued events/s ÷ median synchronous events/s. */
  ratio: number;
  /** Every round, in the order run: sync, queued, sync, queued… */
  rounds: BurstResult[];
}

/**
 * Issue items 2 and 3: the synchronous reference (`sync-reference-server.ts`) and a real
 * ingress + worker (default concurrency, their queue on `backend`: Redis unless named) on the same database, both started and warmed up
 * first, then fed the same kind of burst in alternating rounds, so the machine's drift falls on
 * both. Each round's events are fresh (`burstEvents()`); the medians are compared.
 */
export async function benchBursts(
  database: BenchDatabase,
  queueName: string,
  burstEvents: (count: number) => StripeEvent[],
  log: (line: string) => void,
  backend: BenchBackend = redisBackend(),
): Promise<BurstComparison> {
  const { burst: b } = settings;
  const queue = openBenchQueue(queueName, backend);
  const processes: BenchProcess[] = [];
  try {
    const syncPort = await freePort();
    const syncServer = await startProcess(
      'sync-reference',
      'bench/servers/sync-reference-server.ts',
      {
        PORT: String(syncPort),
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        DATABASE_URL: database.url,
        SYNC_CONNECTIONS: String(b.syncConnections),
        LOG_LEVEL: settings.logLevel,
      },
      /sync reference listening/,
    );
    processes.push(syncServer);
    const { process: ingress, port } = await startIngress(queueName, {}, backend);
    processes.push(ingress);
    const worker = await startWorkerProcess(database, queueName, settings.worker.defaultConcurrency, { backend });
    processes.push(worker);
    const sync: Subject = { kind: 'sync', port: syncPort, server: syncServer };
    const queued: Subject = { kind: 'queued', port, server: ingress, worker };

    log(`  warm-up: ${b.warmupEvents} events each`);
    await warm(database, sync, burstEvents(b.warmupEvents));
    await warm(database, queued, burstEvents(b.warmupEvents));
    const rounds: BurstResult[] = [];
    for (let round = 1; round <= b.rounds; round += 1) {
      for (const subject of [sync, queued]) {
        const result = await measure(database, subject, burstEvents(b.events));
        log(`  round ${round}, ${subject.kind}: ${result.eventsPerSec}/s`);
        rounds.push(result);
      }
    }
    const median = (kind: BurstResult['kind']) => {
      const sorted = rounds.filter((r) => r.kind === kind).sort((a, z) => a.eventsPerSec - z.eventsPerSec);
      return sorted[Math.floor((sorted.length - 1) / 2)] as BurstResult; // the lower middle of an even count
    };
    const [s, q] = [median('sync'), median('queued')];
    return { sync: s, queued: q, ratio: round(q.eventsPerSec / s.eventsPerSec, 3), rounds };
  } finally {
    for (const p of processes) await p.stop(10_000);
    await queue.drop();
  }
}
