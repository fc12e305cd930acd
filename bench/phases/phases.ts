import type { StripeEvent } from '@billing/stripe-simulator/events';
import { benchBursts, type BurstComparison } from './burst';
import { seedUsers, type BenchDatabase } from '../harness/database';
import { eventMix } from '../harness/event-mix';
import { benchPgbench, type PgbenchResult } from './pgbench';
import { settings } from '../settings';
import { drainOnce, startWorkers, type DrainResult } from './worker-throughput';

/** The bench's phases that need a database: burst, the worker drains, pgbench. Progress goes to stderr. */

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Everything the phases share: the database, the event mixes, the queue names of this run. */
export interface Run {
  db: BenchDatabase;
  /** `events` of the realistic mix, keeping the headline's events per subscription (20 by default). */
  mix: (events: number) => StripeEvent[];
  queue: (phase: string) => string;
}

/** The run's event mixes over users seeded into `db`. */
export async function prepareRun(db: BenchDatabase, queue: (phase: string) => string): Promise<Run> {
  const { worker: w } = settings;
  const userIds = await seedUsers(db.sql, w.subscriptions);
  const perSubscription = w.events / w.subscriptions;
  const mix = (events: number) => eventMix({ userIds, subscriptions: Math.max(1, Math.round(events / perSubscription)), events });
  return { db, mix, queue };
}

export async function burstPhase(run: Run): Promise<BurstComparison> {
  const { burst: b } = settings;
  log(
    `burst: synchronous reference (${b.syncConnections} connections) and ingress + worker (concurrency ${settings.worker.defaultConcurrency}), ${b.rounds} alternating rounds of ${b.events} events, ${b.inFlight} in flight`,
  );
  const burst = await benchBursts(run.db, run.queue('burst'), run.mix, log);
  log(`  median: ${burst.queued.eventsPerSec}/s against ${burst.sync.eventsPerSec}/s (${burst.ratio}×)`);
  return burst;
}

/** The headline worker at its default concurrency: warm-up, the full drain, and a second, smaller one (memory growth). */
export async function defaultDrains(run: Run) {
  const { worker: w } = settings;
  log(`worker at concurrency ${w.defaultConcurrency}: warm-up ${w.warmupEvents}, then ${w.events} events, then ${w.sweepEvents}`);
  const headlineEvents = run.mix(w.events);
  const fleet = await startWorkers(run.db, run.queue(`c${w.defaultConcurrency}`), 1, w.defaultConcurrency);
  try {
    await fleet.drain(run.mix(w.warmupEvents));
    const headline = await fleet.drain(headlineEvents);
    log(`  ${headline.eventsPerSec}/s, ${headline.meanBatchSize} events/transaction`);
    const second = await fleet.drain(run.mix(w.sweepEvents));
    log(`  second drain: ${second.eventsPerSec}/s`);
    return { headline, second, headlineEvents };
  } finally {
    await fleet.stop();
  }
}

/** One worker at pgbench's client count (the full drain), then the sweep's concurrencies (smaller drains). */
export async function otherDrains(run: Run): Promise<{ atPgbenchConcurrency: DrainResult; sweep: DrainResult[] }> {
  const { worker: w } = settings;
  const drain = async (concurrency: number, events: number) => {
    log(`worker at concurrency ${concurrency}: warm-up ${w.warmupEvents}, then ${events} events`);
    const result = await drainOnce(run.db, run.queue(`c${concurrency}`), run.mix(events), 1, concurrency, run.mix(w.warmupEvents));
    log(`  ${result.eventsPerSec}/s, ${result.meanBatchSize} events/transaction`);
    return result;
  };
  const atPgbenchConcurrency = await drain(w.pgbenchConcurrency, w.events);
  const sweep: DrainResult[] = [];
  for (const concurrency of w.sweep.filter((c) => c !== w.defaultConcurrency && c !== w.pgbenchConcurrency))
    sweep.push(await drain(concurrency, w.sweepEvents));
  return { atPgbenchConcurrency, sweep };
}

export async function pgbenchPhase(run: Run): Promise<PgbenchResult> {
  log('pgbench: the per-event transaction');
  const result = await benchPgbench(run.db, log);
  log(
    'skipped' in result
      ? `  skipped: ${result.skipped}`
      : `  ${result.runs.map((r) => `${r.clients} clients: ${r.transactionsPerSec}/s`).join(', ')}`,
  );
  return result;
}
