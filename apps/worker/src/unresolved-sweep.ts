import { sweepUnresolved, type AccessPolicy } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { withLease } from '@billing/db/lease';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';
import { periodicTask } from './periodic-task';

/** The lease that lets one worker at a time sweep (`worker_leases`). */
export const SWEEP_LEASE = 'unresolved-sweep';
/** A sweeper that died lets go after this long; a live one renews while it sweeps. */
const SWEEP_LEASE_TTL_MS = 60_000;

export interface SweepOptions {
  /** Between sweeps (0: only when `runOnce` is called); the first runs one interval after start. */
  intervalMs: number;
  /** Postgres: the sweep's queries, and the lease. */
  connection: Sql;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Runs again the jobs of unresolved events recorded without their event. */
  recover: (eventIds: string[]) => Promise<number>;
  /** Told the outbox ids each sweep committed (the relay writes their notification jobs). */
  onOutbox?: (outboxIds: number[]) => void;
  /** The access policy the events it applies are decided under. */
  accessPolicy?: AccessPolicy;
}

export interface Sweep {
  /** Sweeps now, unless another worker is sweeping; resolves when done. */
  runOnce: () => Promise<void>;
  /** No more sweeps; waits for one under way (its lease is released when it ends). */
  stop: () => Promise<void>;
}

/**
 * The periodic sweep: `unresolved` events whose user has become findable without any event of
 * theirs arriving since (the host application bound the customer, say) are applied, by one worker
 * at a time. The lease is held for the sweep's duration only and released when it ends, so a worker
 * restarted, or started with a shorter interval, sweeps on its own schedule; a worker that dies
 * mid-sweep lets go within a minute.
 */
export function startUnresolvedSweep(options: SweepOptions): Sweep {
  const { logger, metrics } = options;
  const sweep = async () => {
    const result = await sweepUnresolved(options.connection, 50, { accessPolicy: options.accessPolicy });
    if (result.outboxIds.length > 0) options.onOutbox?.(result.outboxIds);
    for (const [eventId, r] of result.reapplied) {
      metrics.events.inc({ type: 'reapplied', outcome: r.outcome });
      logger.info(
        { eventId, outcome: r.outcome, subscription: r.subscriptionId, customer: r.customerId },
        'unresolved event applied by the sweep: its user is known now',
      );
    }
    if (result.withoutEvent.length > 0) await options.recover(result.withoutEvent);
  };
  const task = periodicTask(
    async () => {
      await withLease(options.connection, SWEEP_LEASE, { ttlMs: SWEEP_LEASE_TTL_MS }, sweep);
    },
    { everyMs: options.intervalMs, logger, failure: 'the unresolved-events sweep failed; it runs again next interval' },
  );
  return { runOnce: task.runOnce, stop: task.stop };
}
