/**
 * `npm run bench`: the figures the system exists for, each beside the baseline that bounds it,
 * measured in this run on this machine. Reports only; never fails on a missed target.
 * Writes bench/results/latest.json and latest.md; prints the table on stdout (progress on stderr).
 *
 * `npm run bench -- --only ingress` runs only the ingress acknowledgement phase (no database) and
 * `--only slow-clients` only the slow-client probe; both print their figures and write nothing.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { killChildren } from './child-process';
import { createBenchDatabase, seedUsers, type BenchDatabase } from './database';
import { eventMix, typeCounts } from './event-mix';
import { benchAcknowledgement, ingressOnlyRows } from './ingress';
import { round } from './round';
import { benchLatency } from './latency';
import { describeMachine, loadAverageNow } from './machine';
import { rawApply } from './raw-apply';
import { markdown, targetRows, textTable, type BenchResults, type MemoryRuns } from './report';
import { settings } from './settings';
import { drainOnce, startWorkers, type DrainResult } from './worker-throughput';
import type { MemoryWindow } from './memory';
import { dropOpenQueues } from './worker-queue';
import { probeSlowClients } from './slow-clients';

const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
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

const ONLY = ['ingress', 'slow-clients'] as const;

/** `--only <phase>` from the command line, or undefined for the whole bench. */
function onlyPhase(argv: readonly string[]): (typeof ONLY)[number] | undefined {
  const at = argv.indexOf('--only');
  if (at === -1) return undefined;
  const phase = argv[at + 1];
  if (!ONLY.includes(phase as (typeof ONLY)[number])) throw new Error(`--only takes one of ${ONLY.join(', ')}, got ${phase ?? 'nothing'}`);
  return phase as (typeof ONLY)[number];
}

async function runOnly(phase: (typeof ONLY)[number], queue: (phase: string) => string): Promise<void> {
  if (phase === 'slow-clients') {
    log(`bench --only slow-clients: load ${loadAverageNow()}`);
    const figures = await probeSlowClients(queue('slow'), log);
    process.stdout.write(`\n${JSON.stringify(figures, null, 2)}\n`);
    return;
  }
  log(`bench --only ingress: load ${loadAverageNow()}, ${settings.ingress.connections} connections, ${settings.ingress.durationSeconds} s runs`);
  // The event mix only needs user ids to put in metadata; the ingress never reads the database.
  const { worker: w } = settings;
  const userIds = Array.from({ length: w.subscriptions }, (_, i) => i + 1);
  const templates = eventMix({ userIds, subscriptions: Math.max(1, Math.round(2_000 / (w.events / w.subscriptions))), events: 2_000 });
  const acknowledgement = await benchAcknowledgement(templates, queue('ack'), log);
  process.stdout.write(`\n${textTable(ingressOnlyRows(acknowledgement))}\n\n`);
  log(JSON.stringify(acknowledgement));
}

async function main(): Promise<void> {
  const started = performance.now();
  const tag = randomBytes(3).toString('hex');
  const queue = (phase: string) => `bench-${tag}-${phase}`;
  const { worker: w } = settings;
  const only = onlyPhase(process.argv.slice(2));
  if (only) return runOnly(only, queue);

  // 1. A fresh database, its users, and the machine it all runs on.
  database = await createBenchDatabase(settings.adminDatabaseUrl);
  const db = database;
  const machine = await describeMachine(db.sql, settings.redisUrl);
  log(`bench ${tag}: database ${db.name}, ${machine.cores} cores, load ${machine.loadAverage.start}`);
  const userIds = await seedUsers(db.sql, w.subscriptions);
    // Every batch keeps the headline's events per subscription (20 by default), so the mix of
  // types is the same whatever the batch size.
  const perSubscription = w.events / w.subscriptions;
  const mix = (events: number) => eventMix({ userIds, subscriptions: Math.max(1, Math.round(events / perSubscription)), events });

  // 2. Ingress acknowledgement against the bare verify-only endpoint.
  log('1/6 ingress acknowledgement');
  const acknowledgement = await benchAcknowledgement(mix(2_000), queue('ack'), log);

  // 3. Worker end to end at the default concurrency (after a warm-up drain), then a second drain
  //    in the same process (memory across consecutive runs; also the sweep's concurrency-10 entry).
  log(`2/6 worker at concurrency ${w.defaultConcurrency}: warm-up ${w.warmupEvents}, then ${w.events} events`);
  const headlineEvents = mix(w.events);
  const fleet = await startWorkers(db, queue('w10'), 1, w.defaultConcurrency);
  let headline: DrainResult;
  let second: DrainResult;
  let smallEvents: number;
  try {
    await fleet.drain(mix(w.warmupEvents));
    headline = await fleet.drain(headlineEvents);
    // Smaller drains for the rest, sized to about `smallDrainSeconds` at this rate so the whole
    // bench stays within its time budget on a busy machine.
    smallEvents = clamp(Math.round(headline.eventsPerSec * w.smallDrainSeconds), w.minSmallEvents, w.maxSmallEvents);
    log(`  ${headline.eventsPerSec}/s; second drain in the same process: ${smallEvents} events`);
    second = await fleet.drain(mix(smallEvents));
    log(`  ${second.eventsPerSec}/s`);
  } finally {
    await fleet.stop();
  }
  log(`3/6 raw applyEvent loop, pool ${w.defaultConcurrency}: warm-up ${w.warmupEvents}, then ${w.events} events`);
  const rawDefault = await rawApply(db, mix(w.events), w.defaultConcurrency, mix(w.warmupEvents));
  log(`  ${rawDefault.eventsPerSec}/s`);

  // 4. Concurrency sweep (smaller drains), the best against raw at that pool size, and two workers.
  log(`4/6 concurrency sweep ${w.sweep.join('/')} with ${smallEvents} events each (after a warm-up of ${w.warmupEvents})`);
  const sweep: DrainResult[] = [second];
  for (const concurrency of w.sweep) {
    if (concurrency === w.defaultConcurrency) continue;
    const result = await drainOnce(db, queue(`c${concurrency}`), mix(smallEvents), 1, concurrency, mix(w.warmupEvents));
    log(`  concurrency ${concurrency}: ${result.eventsPerSec}/s`);
    sweep.push(result);
  }
  sweep.sort((a, b) => a.concurrency - b.concurrency);
  const best = sweep.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
  const rawBest = await rawApply(db, mix(smallEvents), best.concurrency, mix(w.warmupEvents));
  log(`  best ${best.concurrency}: ${best.eventsPerSec}/s; raw pool ${best.concurrency}: ${rawBest.eventsPerSec}/s`);
  log(`5/6 two workers × ${best.concurrency}: ${smallEvents} events`);
  const twoWorkers = await drainOnce(db, queue('two'), mix(smallEvents), 2, best.concurrency, mix(w.warmupEvents));
  log(`  ${twoWorkers.eventsPerSec}/s`);

  // 5. End-to-end latency at half the default deployment's measured capacity.
  const rate = headline.eventsPerSec * settings.latency.loadFraction;
  log(`6/6 end-to-end latency at ${Math.round(rate)}/s for ${settings.latency.durationSeconds} s`);
  const latency = await benchLatency(db, mix(Math.ceil(rate * (settings.latency.warmupSeconds + settings.latency.durationSeconds))), rate, queue('lat'));

  // 6. Report.
  machine.loadAverage.end = loadAverageNow();
  const partial: Omit<BenchResults, 'targets'> = {
    measuredAt: new Date().toISOString(),
    wallSeconds: round((performance.now() - started) / 1000),
    machine,
    notes: [
      'Ratios are what to read: the machine has 2 cores shared by the load generator, the processes under test, Postgres, Redis and other engineers\' test suites, so absolute figures move from run to run.',
      `Ingress and worker log at LOG_LEVEL=${settings.logLevel} (production default), drained by the bench; the bare endpoint does not log.`,
      'Worker drains: events are put in the paused queue first, then the queue is resumed and the time runs until the ledger holds every event. The raw baseline runs the same applyEvent in this process over a pool of the same size, with no queue.',
      `Every worker process and raw loop gets a warm-up of ${w.warmupEvents} events first (a production worker is warm). Sweep, best, raw-at-best and scaling figures use ${smallEvents} events per drain (about ${w.smallDrainSeconds} s at the measured rate, not ${w.events}) to keep the run within 5 minutes; the concurrency-${w.defaultConcurrency} sweep entry is the second drain of the headline worker process.`,
      'End-to-end latency reads webhook_events.processed_at, which is Postgres now() (start of the applying transaction): it leaves out that transaction\'s own few milliseconds.',
      'Memory: VmRSS sampled every 100 ms from /proc; "run 1 → run 2" compares two consecutive runs in one process (ingress: two load runs; worker: the two drains).',
    ],
    settings: {
      connections: settings.ingress.connections,
      ackDurationSeconds: settings.ingress.durationSeconds,
      ackWarmupSeconds: settings.ingress.warmupSeconds,
      events: w.events,
      smallDrainEvents: smallEvents,
      warmupEvents: w.warmupEvents,
      subscriptions: w.subscriptions,
      sweep: w.sweep,
      logLevel: settings.logLevel,
    },
    eventMix: typeCounts(headlineEvents),
    acknowledgement,
    worker: {
      atDefaultConcurrency: { worker: headline, raw: rawDefault, ratio: round(headline.eventsPerSec / rawDefault.eventsPerSec, 3) },
      sweep,
      best: { concurrency: best.concurrency, worker: best, raw: rawBest, ratio: round(best.eventsPerSec / rawBest.eventsPerSec, 3) },
      scaling: { oneWorker: best, twoWorkers, gain: round(twoWorkers.eventsPerSec / best.eventsPerSec, 3) },
    },
    latency,
    memory: {
      ingress: memoryRuns(acknowledgement.ingressMemory, settings.memoryTargets.ingressMiB, [latency.ingressMemory]),
      worker: memoryRuns(
        [headline.memory[0], second.memory[0]].filter((x): x is MemoryWindow => x !== undefined) as [MemoryWindow, MemoryWindow],
        settings.memoryTargets.workerMiB,
        [...sweep, twoWorkers].flatMap((d) => d.memory).concat(latency.workerMemory),
      ),
    },
  };
  const results: BenchResults = { ...partial, targets: targetRows(partial) };

  await mkdir(RESULTS, { recursive: true });
  await writeFile(`${RESULTS}latest.json`, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(`${RESULTS}latest.md`, markdown(results));
  process.stdout.write(`\n${textTable(results.targets)}\n\n`);
  log(`wrote bench/results/latest.json and latest.md (${results.wallSeconds} s)`);
}

/** Peak over every run of that process kind; growth between the two consecutive runs. */
function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

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
