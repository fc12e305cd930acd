import { applyEvent, defaultBillingConfig } from '@billing/billing';
import { createConnection, type Sql } from '@billing/db/client';
import type { StripeEvent } from '@billing/testing/stripe-events';
import { backendPids, resetBillingTables, type BenchDatabase } from './database';
import { cpuMeter } from './process-cpu';
import { round } from './round';

export interface RawApplyResult {
  poolSize: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** CPU time of this (the driving) process per event (ms). */
  cpuMsPerEvent: number;
  /** CPU time of this database's Postgres backends per event (ms). */
  postgresCpuMsPerEvent: number;
  /** Transactions that threw and were retried at once (the worker would retry with backoff). */
  retries: number;
}

/**
 * The database's limit for this work: the same per-event transaction (`applyEvent`) driven
 * straight from `poolSize` async loops in this process over a pool of that size — no Redis, no
 * job bookkeeping, no logging.
 */
export async function rawApply(
  database: BenchDatabase,
  events: readonly StripeEvent[],
  poolSize: number,
  warmup: readonly StripeEvent[] = [],
): Promise<RawApplyResult> {
  const connections = Array.from({ length: poolSize }, () => createConnection(database.url, 'billing-bench-raw'));
  try {
    // A warm-up pass (JIT, every pool connection open), as the worker gets one; then the same state.
    if (warmup.length > 0) {
      await resetBillingTables(database.sql);
      await applyAll(connections, warmup);
    }
    await resetBillingTables(database.sql);
    const postgresCpu = cpuMeter(await backendPids(database.sql));
    const cpu = process.cpuUsage();
    const started = performance.now();
    const retries = await applyAll(connections, events);
    const seconds = (performance.now() - started) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    const postgresCpuMs = postgresCpu();
    return {
      poolSize,
      events: events.length,
      seconds: round(seconds, 2),
      eventsPerSec: round(events.length / seconds),
      cpuMsPerEvent: round((user + system) / 1000 / events.length, 3),
      postgresCpuMsPerEvent: round(postgresCpuMs / events.length, 3),
      retries,
    };
  } finally {
    await Promise.all(connections.map((c) => c.end({ timeout: 5 })));
  }
}

/** One loop per connection, each taking the next event; a transaction that throws is retried at once. Returns the retries. */
async function applyAll(connections: Sql[], events: readonly StripeEvent[]): Promise<number> {
  let next = 0;
  let retries = 0;
  const loop = async (connection: Sql) => {
    for (;;) {
      const event = events[next++];
      if (!event) return;
      for (let attempt = 1; ; attempt += 1) {
        try {
          await applyEvent(connection, event, defaultBillingConfig);
          break;
        } catch (error) {
          retries += 1;
          if (attempt >= 5) throw error;
        }
      }
    }
  };
  await Promise.all(connections.map(loop));
  return retries;
}
