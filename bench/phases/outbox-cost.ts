import type postgres from 'postgres';
import { round } from '../report/round';
import { settings } from '../settings';
import type { Run } from './phases';
import { drainOnce, type DrainResult } from './worker-throughput';

/** One drain with or without the outbox written, and the outbox rows it left. */
export interface OutboxDrain {
  writeOutbox: boolean;
  drain: DrainResult;
  /** `billing_outbox` rows per event applied, and by type (rows per event). */
  rowsPerEvent: number;
  byType: Record<string, number>;
}

export interface OutboxCost {
  rounds: OutboxDrain[];
  /** Median events/s of each side. */
  withOutbox: number;
  withoutOutbox: number;
  /** With ÷ without events/s of each pair (drained one after the other, so drift hardly falls between them). */
  pairRatios: number[];
  /** 1 − the median pair ratio: the share of drain throughput the outbox costs (issue 22 asks ≤ 15 %). */
  cost: number;
  /** Worker + Postgres CPU per event, medians, with and without. */
  cpuMsPerEvent: { withOutbox: number; withoutOutbox: number };
}

const WORKER_SCRIPT = 'bench/servers/outbox-switch-worker.ts';

/**
 * Issue 22 "Cost": the same worker (`servers/outbox-switch-worker.ts`) drains the same kind of
 * mix with the outbox written and, for the baseline, with `ApplyOptions.writeOutbox: false`,
 * alternating (with, without, with, without…: `BENCH_OUTBOX_ROUNDS` pairs) so the machine's drift
 * falls on both; the cost is read from the median of the pairs' ratios.
 */
export async function benchOutboxCost(run: Run, log: (line: string) => void): Promise<OutboxCost> {
  const { worker: w, outbox: o } = settings;
  const rounds: OutboxDrain[] = [];
  for (let pair = 0; pair < o.rounds; pair += 1) {
    for (const writeOutbox of [true, false]) {
      log(`  ${writeOutbox ? 'with' : 'without'} the outbox: warm-up ${w.warmupEvents}, then ${o.events} events`);
      const drain = await drainOnce(
        run.db,
        run.queue(`outbox-${pair}-${writeOutbox ? 'on' : 'off'}`),
        run.mix(o.events),
        1,
        w.defaultConcurrency,
        run.mix(w.warmupEvents),
        {
          script: WORKER_SCRIPT,
          env: { BENCH_WRITE_OUTBOX: String(writeOutbox) },
        },
      );
      const rows = await outboxRows(run.db.sql);
      const total = Object.values(rows).reduce((n, c) => n + c, 0);
      log(`    ${drain.eventsPerSec}/s, ${total} outbox rows`);
      rounds.push({
        writeOutbox,
        drain,
        rowsPerEvent: round(total / drain.events, 3),
        byType: Object.fromEntries(Object.entries(rows).map(([type, n]) => [type, round(n / drain.events, 3)])),
      });
    }
  }
  const side = (on: boolean) => rounds.filter((r) => r.writeOutbox === on);
  const withOutbox = median(side(true).map((r) => r.drain.eventsPerSec));
  const withoutOutbox = median(side(false).map((r) => r.drain.eventsPerSec));
  const cpu = (on: boolean) => median(side(on).map((r) => r.drain.workerCpuMsPerEvent + r.drain.postgresCpuMsPerEvent));
  const pairRatios = side(true).map((on, i) => round(on.drain.eventsPerSec / side(false)[i]!.drain.eventsPerSec, 3));
  return {
    rounds,
    withOutbox,
    withoutOutbox,
    pairRatios,
    cost: round(1 - median(pairRatios), 3),
    cpuMsPerEvent: { withOutbox: round(cpu(true), 3), withoutOutbox: round(cpu(false), 3) },
  };
}

/** Outbox rows by type (only the last drain's: the tables are reset before each). */
async function outboxRows(sql: postgres.Sql): Promise<Record<string, number>> {
  const rows = await sql<{ type: string; n: number }[]>`select type, count(*)::int as n from billing_outbox group by type order by type`;
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
