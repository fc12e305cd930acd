/**
 * `npm run bench`: the figures the system exists for, each beside the baseline that bounds it,
 * measured in this run on this machine. Reports only; never fails on a missed target.
 * Writes bench/results/latest.json and latest.md; prints the table on stdout (progress on stderr).
 *
 * `npm run bench -- --only <phase>` runs one phase and prints its rows (and its figures as JSON
 * on stderr), writing no results file: `ingress` and `slow-clients` need no database; `pgbench`,
 * `burst` (the synchronous reference and the burst through ingress + worker) and `drain`
 * (pgbench and the worker drains against it) make their own.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { killChildren } from '../harness/child-process';
import { createBenchDatabase, type BenchDatabase } from '../harness/database';
import { eventMix, typeCounts } from '../harness/event-mix';
import { benchAcknowledgement, ingressRows } from '../phases/ingress';
import { benchLatency } from '../phases/latency';
import { benchBackends } from '../phases/backends';
import { backendRows, outboxRows, queueLengthRows } from '../report/backend-rows';
import { benchQueueLength } from '../phases/queue-length';
import { benchOutboxCost } from '../phases/outbox-cost';
import { describeMachine, loadAverageNow } from '../harness/machine';
import type { MemoryWindow } from '../harness/memory';
import { burstPhase, defaultDrains, otherDrains, pgbenchPhase, prepareRun, type Run } from '../phases/phases';
import { burstRows, drainRows, pgbenchRows, targetRows, type BenchResults, type MemoryRuns } from '../report/report';
import { markdown, textTable } from '../report/report-text';
import { round } from '../report/round';
import { settings } from '../settings';
import { probeSlowClients } from '../phases/slow-clients';
import { drainOnce } from '../phases/worker-throughput';
import { dropOpenQueues } from '../harness/worker-queue';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));
const log = (line: string) => process.stderr.write(`${line}\n`);

let database: BenchDatabase | undefined;
let interrupted = false;
const cleanup = async () => {
  killChildren();
  await dropOpenQueues().catch(() => {});
  await database?.drop().catch((error: unknown) => log(`could not drop ${database?.name}: ${String(error)}`));
  database = undefined;
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`\n${signal}: stopping children and dropping the bench database`);
    void cleanup().finally(() => process.exit(130));
  });
}

const ONLY = ['ingress', 'slow-clients', 'pgbench', 'burst', 'drain', 'backends', 'queue-length', 'outbox'] as const;
type Phase = (typeof ONLY)[number];

/** `--only <phase>` from the command line, or undefined for the whole bench. */
function onlyPhase(argv: readonly string[]): Phase | undefined {
  const at = argv.indexOf('--only');
  if (at === -1) return undefined;
  const phase = argv[at + 1];
  if (!ONLY.includes(phase as Phase)) throw new Error(`--only takes one of ${ONLY.join(', ')}, got ${phase ?? 'nothing'}`);
  return phase as Phase;
}

async function openRun(queue: (phase: string) => string): Promise<Run> {
  database = await createBenchDatabase(settings.adminDatabaseUrl);
  return prepareRun(database, queue);
}

const printRows = (rows: Parameters<typeof textTable>[0]) => process.stdout.write(`\n${textTable(rows)}\n\n`);

async function runOnly(phase: Phase, queue: (phase: string) => string): Promise<void> {
  log(`bench --only ${phase}: load ${loadAverageNow()}`);
  if (phase === 'slow-clients') {
    const figures = await probeSlowClients(queue('slow'), log);
    process.stdout.write(`\n${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  if (phase === 'ingress') {
    log(`  ${settings.ingress.connections} connections, ${settings.ingress.durationSeconds} s runs`);
    // The event mix only needs user ids to put in metadata; the ingress never reads the database.
    const { worker: w } = settings;
    const userIds = Array.from({ length: w.subscriptions }, (_, i) => i + 1);
    const templates = eventMix({ userIds, subscriptions: Math.max(1, Math.round(2_000 / (w.events / w.subscriptions))), events: 2_000 });
    const acknowledgement = await benchAcknowledgement(templates, queue('ack'), log);
    printRows(ingressRows(acknowledgement));
    log(JSON.stringify(acknowledgement));
    return;
  }
  const run = await openRun(queue);
  if (phase === 'pgbench') {
    const pgbench = await pgbenchPhase(run);
    printRows(pgbenchRows(pgbench));
    log(JSON.stringify(pgbench));
  } else if (phase === 'outbox') {
    const cost = await benchOutboxCost(run, log);
    printRows(outboxRows(cost));
    log(JSON.stringify(cost));
  } else if (phase === 'queue-length') {
    const lengths = await benchQueueLength(run, log);
    printRows(queueLengthRows(lengths));
    log(JSON.stringify(lengths));
  } else if (phase === 'backends') {
    const pgbench = await pgbenchPhase(run);
    const backends = await benchBackends(run, pgbench, run.mix(2_000), log);
    printRows([...pgbenchRows(pgbench), ...backendRows(backends)]);
    log(JSON.stringify(backends));
  } else if (phase === 'burst') {
    const burst = await burstPhase(run);
    printRows(burstRows(burst, settings.burst.syncConnections));
    log(JSON.stringify(burst));
  } else {
    const pgbench = await pgbenchPhase(run);
    const { headline, second } = await defaultDrains(run);
    const others = await otherDrains(run);
    const sweep = [others.atPgbenchConcurrency, second, ...others.sweep].sort((a, b) => a.concurrency - b.concurrency);
    printRows([
      ...pgbenchRows(pgbench),
      ...drainRows(pgbench, { atPgbenchConcurrency: others.atPgbenchConcurrency, atDefaultConcurrency: headline, sweep }),
    ]);
    log(JSON.stringify({ pgbench, headline, sweep }));
  }
  log(`load ${loadAverageNow()} at end`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const tag = randomBytes(3).toString('hex');
  const queue = (phase: string) => `bench-${tag}-${phase}`;
  const { worker: w } = settings;
  const only = onlyPhase(process.argv.slice(2));
  if (only) return runOnly(only, queue);

  const run = await openRun(queue);
  const machine = await describeMachine(run.db.sql, settings.redisUrl);
  log(`bench ${tag}: database ${run.db.name}, ${machine.cores} cores, load ${machine.loadAverage.start}`);

  log('1/7 ingress acknowledgement');
  const acknowledgement = await benchAcknowledgement(run.mix(2_000), queue('ack'), log);
  log('2/7 pgbench');
  const pgbench = await pgbenchPhase(run);
  log('3/7 burst');
  const burst = await burstPhase(run);
  log('4/7 worker drains');
  const { headline, second, headlineEvents } = await defaultDrains(run);
  const others = await otherDrains(run);
  const { atPgbenchConcurrency } = others;
  const sweep = [atPgbenchConcurrency, second, ...others.sweep].sort((a, b) => a.concurrency - b.concurrency);
  log(`backends: ${settings.backends.names.join(' and ')}, ingress and a drain of ${settings.backends.drainEvents} each`);
  const backends = await benchBackends(run, pgbench, run.mix(2_000), log);
  log(`outbox: ${settings.outbox.rounds} pairs of drains with and without it, ${settings.outbox.events} events each`);
  const outbox = await benchOutboxCost(run, log);
  log(`5/7 two workers × ${w.defaultConcurrency}: ${w.events} events`);
  const twoWorkers = await drainOnce(run.db, queue('two'), run.mix(w.events), 2, w.defaultConcurrency, run.mix(w.warmupEvents));
  log(`  ${twoWorkers.eventsPerSec}/s`);

  // End-to-end latency at half the measured end-to-end capacity (the burst's rate).
  const rate = burst.queued.eventsPerSec * settings.latency.loadFraction;
  log(`6/7 end-to-end latency at ${Math.round(rate)}/s for ${settings.latency.durationSeconds} s`);
  const latency = await benchLatency(
    run.db,
    run.mix(Math.ceil(rate * (settings.latency.warmupSeconds + settings.latency.durationSeconds))),
    rate,
    queue('lat'),
  );

  log('7/7 report');
  const queuedRounds = burst.rounds.filter((r) => r.kind === 'queued');
  machine.loadAverage.end = loadAverageNow();
  const d = w.defaults;
  const partial: Omit<BenchResults, 'targets'> = {
    measuredAt: new Date().toISOString(),
    wallSeconds: round((performance.now() - started) / 1000),
    machine,
    notes: [
      "Ratios are what to read: the machine has 2 cores shared by the load generator, the processes under test, Postgres, Redis and other engineers' test suites, so absolute figures move from run to run.",
      `Workers run with the app's defaults but for the concurrency named: WORKER_BATCH_SIZE ${w.batchOverrides.batchSize ?? d.batchSize}, WORKER_BATCH_WAIT_MS ${w.batchOverrides.batchWaitMs ?? d.batchWaitMs}, two transactions in flight per worker. Ingress, worker and the synchronous reference log at LOG_LEVEL=${settings.logLevel} (production default), one line per event; the bare endpoints do not log.`,
      `pgbench runs the per-event transaction of docs/design.md (ledger insert, user by customer, subscription SELECT … FOR UPDATE, update, user status, transition insert: one transaction per event) generated from the Drizzle schema, over ${w.subscriptions} seeded subscriptions, ${settings.pgbench.seconds} s per client count. Its Postgres CPU is sampled from /proc every 50 ms (approximate).`,
      `The burst: ${settings.burst.events} signed events of the mix, ${settings.burst.inFlight} in flight (a new request as soon as one is answered), timed from the first request until the ledger holds every event. The synchronous reference and ingress + worker run side by side, each warmed up with ${settings.burst.warmupEvents} events, then fed ${settings.burst.rounds} alternating rounds (fresh events each); the median round of each is shown. The synchronous reference holds one of its ${settings.burst.syncConnections} single-connection clients per request while it applies the event.`,
      `Worker drains: events put in the paused queue first, then the queue resumed and the time run until the ledger holds every event. Each worker process gets a warm-up of ${w.warmupEvents} events first (a production worker is warm). The default concurrency, pgbench's client count and two workers drain ${w.events} events; the sweep drains ${w.sweepEvents} (the default concurrency's sweep entry is the headline process's second drain, its memory run 2).`,
      "CPU per event: from /proc/<pid>/stat of the worker(s), the ingress or the reference server; Postgres = the backends of the bench database (not the bench's own); Redis = the local server (pid from INFO server), shared with whatever else uses it.",
      "End-to-end latency reads webhook_events.processed_at, which is Postgres now() (start of the applying transaction): it leaves out that transaction's own few milliseconds.",
      'Memory: VmRSS sampled every 100 ms from /proc; "run 1 → run 2" compares two consecutive runs in one process (ingress: two load runs; worker: the two drains).',
    ],
    settings: {
      connections: settings.ingress.connections,
      ackDurationSeconds: settings.ingress.durationSeconds,
      ackWarmupSeconds: settings.ingress.warmupSeconds,
      pgbenchClients: settings.pgbench.clients,
      pgbenchSeconds: settings.pgbench.seconds,
      burstEvents: settings.burst.events,
      burstInFlight: settings.burst.inFlight,
      burstRounds: settings.burst.rounds,
      burstWarmupEvents: settings.burst.warmupEvents,
      syncConnections: settings.burst.syncConnections,
      events: w.events,
      sweepEvents: w.sweepEvents,
      warmupEvents: w.warmupEvents,
      subscriptions: w.subscriptions,
      workerDefaults: w.defaults,
      workerBatchOverrides: w.batchOverrides,
      sweep: w.sweep,
      logLevel: settings.logLevel,
    },
    eventMix: typeCounts(headlineEvents),
    pgbench,
    burst,
    acknowledgement,
    worker: {
      atPgbenchConcurrency,
      atDefaultConcurrency: headline,
      sweep,
      scaling: { oneWorker: headline, twoWorkers, gain: round(twoWorkers.eventsPerSec / headline.eventsPerSec, 3) },
    },
    latency,
    backends,
    outbox,
    memory: {
      ingress: memoryRuns(acknowledgement.ingressMemory, settings.memoryTargets.ingressMiB, [
        latency.ingressMemory,
        ...queuedRounds.map((r) => r.memory.server),
      ]),
      worker: memoryRuns(
        [headline.memory[0], second.memory[0]].filter((x): x is MemoryWindow => x !== undefined) as [MemoryWindow, MemoryWindow],
        settings.memoryTargets.workerMiB,
        [atPgbenchConcurrency, ...others.sweep, twoWorkers]
          .flatMap((r) => r.memory)
          .concat(
            latency.workerMemory,
            queuedRounds.flatMap((r) => r.memory.worker ?? []),
          ),
      ),
    },
  };
  const results: BenchResults = { ...partial, targets: [...targetRows(partial), ...backendRows(backends), ...outboxRows(outbox)] };

  await mkdir(RESULTS, { recursive: true });
  await writeFile(`${RESULTS}latest.json`, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(`${RESULTS}latest.md`, markdown(results));
  printRows(results.targets);
  log(
    `wrote bench/results/latest.json and latest.md (${results.wallSeconds} s, load ${machine.loadAverage.start} → ${machine.loadAverage.end})`,
  );
}

/** Peak over every run of that process kind; growth between the two consecutive runs. */
function memoryRuns(runs: [MemoryWindow, MemoryWindow], limitMiB: number, others: MemoryWindow[]): MemoryRuns {
  const peakMiB = Math.max(...runs.map((r) => r.peakRssMiB), ...others.map((r) => r.peakRssMiB));
  return { runs, peakMiB, growthMiB: round(runs[1].peakRssMiB - runs[0].peakRssMiB), limitMiB };
}

try {
  await main();
} catch (error) {
  if (!interrupted) log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
