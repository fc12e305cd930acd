import type { StripeEvent } from '@billing/stripe-simulator/events';
import { functionTimes } from '../harness/database';
import { benchBackend } from '../harness/queue-backend';
import { round } from '../report/round';
import { settings, type QueueBackendName } from '../settings';
import { benchBursts, type BurstComparison } from './burst';
import { ingressOnBackend, type LoadResult } from './ingress';
import type { PgbenchResult } from './pgbench';
import type { Run } from './phases';
import { drainOnce, type DrainResult } from './worker-throughput';

/** One queue backend: the ingress's acknowledgement rate and a worker's drain, each against pgbench's rate. */
export interface BackendFigures {
  backend: QueueBackendName;
  ingress: LoadResult;
  drain: DrainResult;
  /** Ingress req/s ÷ pgbench transactions/s (first client count); null without pgbench. */
  ingressToPgbench: number | null;
  /** Drain events/s ÷ pgbench transactions/s. */
  drainToPgbench: number | null;
}

export interface BackendsComparison {
  /** pgbench's per-event transaction rate at its first client count, measured in the same run. */
  pgbenchTransactionsPerSec: number | null;
  pgbenchClients: number;
  backends: BackendFigures[];
  /** The burst through ingress + worker on each backend but Redis (whose burst is item 3), against the synchronous reference. */
  bursts: Array<{ backend: QueueBackendName; burst: BurstComparison }>;
  /** With `BENCH_TRACK_FUNCTIONS=1`: PL/pgSQL functions by self time over the phase (BullMQ's Postgres backend). */
  postgresFunctions?: Awaited<ReturnType<typeof functionTimes>>;
  /** Postgres backend ÷ Redis backend, when both ran. */
  postgresToRedis: { ingress: number; drain: number } | null;
}

/**
 * Both queue backends side by side (issue 20, item 7): for each, the real ingress under
 * autocannon (warm-up, one run) and one worker at the default concurrency draining a filled queue
 * (after its warm-up), in that order, ingress first on every backend then the drains, so the
 * machine's drift falls on both. Ratios are against pgbench's per-event transaction rate. Then
 * the burst of item 3 on each backend but Redis, against the synchronous reference (issue 20
 * asks ≥ 1.5× on Postgres).
 */
export async function benchBackends(
  run: Run,
  pgbench: PgbenchResult,
  templates: readonly StripeEvent[],
  log: (line: string) => void,
): Promise<BackendsComparison> {
  const { worker: w, backends: b } = settings;
  const first = 'skipped' in pgbench ? undefined : pgbench.runs[0];
  const tps = first?.transactionsPerSec ?? null;
  const ratio = (rate: number) => (tps === null ? null : round(rate / tps, 3));
  const backends = b.names.map((name) => ({ name, backend: benchBackend(name, run.db.url) }));

  const ingress = new Map<QueueBackendName, LoadResult>();
  for (const { name, backend } of backends) ingress.set(name, await ingressOnBackend(templates, run.queue(`ack-${name}`), backend, log));
  const drains = new Map<QueueBackendName, DrainResult>();
  for (const { name, backend } of backends) {
    log(`  worker on ${name} at concurrency ${w.defaultConcurrency}: warm-up ${w.warmupEvents}, then ${b.drainEvents} events`);
    const drain = await drainOnce(
      run.db,
      run.queue(`drain-${name}`),
      run.mix(b.drainEvents),
      1,
      w.defaultConcurrency,
      run.mix(w.warmupEvents),
      {
        backend,
      },
    );
    log(`  ${drain.eventsPerSec}/s, ${drain.meanBatchSize} events/transaction`);
    drains.set(name, drain);
  }

  const bursts: BackendsComparison['bursts'] = [];
  for (const { name, backend } of backends.filter((x) => x.name !== 'redis')) {
    log(`  burst on ${name} against the synchronous reference`);
    const burst = await benchBursts(run.db, run.queue(`burst-${name}`), run.mix, log, backend);
    log(`  median: ${burst.queued.eventsPerSec}/s against ${burst.sync.eventsPerSec}/s (${burst.ratio}×)`);
    bursts.push({ backend: name, burst });
  }

  const figures: BackendFigures[] = backends.map(({ name }) => {
    const i = ingress.get(name)!;
    const d = drains.get(name)!;
    return { backend: name, ingress: i, drain: d, ingressToPgbench: ratio(i.requestsPerSec), drainToPgbench: ratio(d.eventsPerSec) };
  });
  const redis = figures.find((f) => f.backend === 'redis');
  const postgres = figures.find((f) => f.backend === 'postgres');
  return {
    pgbenchTransactionsPerSec: tps,
    pgbenchClients: first?.clients ?? settings.pgbench.clients[0] ?? 10,
    backends: figures,
    bursts,
    ...(settings.trackFunctions && { postgresFunctions: await functionTimes(run.db.sql) }),
    postgresToRedis:
      redis && postgres
        ? {
            ingress: round(postgres.ingress.requestsPerSec / redis.ingress.requestsPerSec, 3),
            drain: round(postgres.drain.eventsPerSec / redis.drain.eventsPerSec, 3),
          }
        : null,
  };
}
