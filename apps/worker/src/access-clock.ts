import { applyAccessClock, type AccessPolicy } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

export interface AccessClockOptions {
  /** Between runs (0: only when `runOnce` is called); the first runs one interval after start. */
  intervalMs: number;
  /** A connection of its own (the clock's transactions are written as messages, like a batch's). */
  connection: Sql;
  policy: AccessPolicy;
  logger: Logger;
  metrics: WorkerMetrics;
  /** Told the outbox ids each run committed (the relay writes their notification jobs). */
  onOutbox?: (outboxIds: number[]) => void;
}

/**
 * The worker's access clock: revokes, with its `user.access_revoked` row, access that ended by the
 * time alone (a grace, a trial, a scheduled cancellation over with no event about it), within
 * `intervalMs` of its `access_until` (`applyAccessClock`). Every worker runs it: the users' row locks
 * make a revocation written once whoever runs it, so nothing depends on one worker holding a lease.
 * The first run (one interval after start) also takes the first decision of users whose rows
 * predate the host contract. A run still going when the next is due is not doubled.
 */
export function startAccessClock(options: AccessClockOptions): { stop: () => Promise<void>; runOnce: () => Promise<number[]> } {
  const { logger, metrics } = options;
  let first = true;
  let running: Promise<number[]> | undefined;
  const run = async (): Promise<number[]> => {
    const result = await applyAccessClock(options.connection, { accessPolicy: options.policy, undecided: first });
    first = false;
    if (result.outboxIds.length > 0) options.onOutbox?.(result.outboxIds);
    if (result.revoked.length > 0) {
      metrics.accessRevokedByClock.inc(result.revoked.length);
      logger.info({ users: result.revoked, outboxIds: result.outboxIds }, 'access ended by the clock: revoked');
    }
    return result.outboxIds;
  };
  const runOnce = () => (running ??= run().finally(() => (running = undefined)));
  const tick = () =>
    void runOnce().catch((error: unknown) => logger.warn({ err: error }, 'the access clock failed; it runs again next interval'));
  if (options.intervalMs === 0) return { stop: async () => {}, runOnce };
  // Not at start: a connection opened while Postgres drops connections can fail postgres-js's own
  // type query at connect, which it leaves unhandled (seen with a database cut right after start).
  const timer = setInterval(tick, options.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running?.catch(() => {});
    },
    runOnce,
  };
}
