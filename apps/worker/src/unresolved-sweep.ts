import { sweepUnresolved } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import type { RedisConnection } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

/** Deletes the key only if this worker still holds it. */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

/** How long a sweep run by hand keeps others from sweeping, at most. */
const MANUAL_LOCK_MS = 10_000;

export interface SweepOptions {
  /** Between sweeps (0: only when `runOnce` is called); the first runs one interval after start. */
  intervalMs: number;
  connection: Sql;
  /** Redis, for the key that lets one worker at a time sweep. */
  redis: RedisConnection;
  /** That key (inside the queue's prefix, so in its slot on a cluster). */
  lockKey: string;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Runs again the jobs of unresolved events recorded without their event. */
  recover: (eventIds: string[]) => Promise<number>;
}

/**
 * The periodic sweep: `unresolved` events whose user has become findable without any event of
 * theirs arriving since (the host application bound the customer, say) are applied, by one worker
 * at a time (a Redis key held for the interval).
 */
export function startUnresolvedSweep(options: SweepOptions): { stop: () => void; runOnce: () => Promise<void> } {
  const { logger, metrics } = options;
  const owner = `${process.pid}-${Math.random().toString(36).slice(2)}`;
  /** `release`: let others sweep once this run ends (a run by hand), else hold the key for the interval. */
  const run = async (release: boolean) => {
    // Held for the interval: another worker's sweep within it is skipped.
    const mine = await options.redis.set(options.lockKey, owner, 'PX', options.intervalMs || MANUAL_LOCK_MS, 'NX');
    if (mine !== 'OK') return;
    try {
      await sweep();
    } finally {
      if (release) await options.redis.eval(RELEASE, 1, options.lockKey, owner);
    }
  };
  const sweep = async () => {
    const result = await sweepUnresolved(options.connection);
    for (const [eventId, r] of result.reapplied) {
      metrics.events.inc({ type: 'reapplied', outcome: r.outcome });
      logger.info(
        { eventId, outcome: r.outcome, subscription: r.subscriptionId, customer: r.customerId },
        'unresolved event applied by the sweep: its user is known now',
      );
    }
    if (result.withoutEvent.length > 0) await options.recover(result.withoutEvent);
  };
  const runOnce = () => run(true);
  if (options.intervalMs === 0) return { stop: () => {}, runOnce };
  const timer = setInterval(() => {
    run(false).catch((error: unknown) => logger.warn({ err: error }, 'the unresolved-events sweep failed; it runs again next interval'));
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
