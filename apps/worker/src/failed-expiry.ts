import type { EventQueue } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

/** Jobs removed per Redis call: each call is one Lua script, which blocks Redis while it runs. */
const BATCH = 1_000;
/** Event ids named in the log line, at most. */
const LOGGED_IDS = 100;

export interface FailedExpiryOptions {
  queue: EventQueue;
  /** How long a job is kept after it failed for good (its `finishedOn`): `WORKER_FAILED_RETENTION_DAYS`. */
  retentionMs: number;
  /** Between runs (0: only when `runOnce` is called); the first runs one interval after start. */
  intervalMs: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

/**
 * Removes the failed jobs that failed longer than the retention ago (BullMQ's `clean` on the
 * failed set, scored by `finishedOn`), logs how many at warn and counts them. Every worker runs it:
 * each `clean` is one atomic script, so two workers never remove (or count) the same job. The
 * `BillingWebhookFailedJobExpiring` alert fires days before, from `billing_queue_oldest_failed_age_seconds`.
 */
export function startFailedExpiry(options: FailedExpiryOptions): { stop: () => void; runOnce: () => Promise<number> } {
  const { queue, retentionMs, logger, metrics } = options;
  const runOnce = async () => {
    const removed: string[] = [];
    for (;;) {
      const ids = await queue.clean(retentionMs, BATCH, 'failed');
      removed.push(...ids);
      if (ids.length < BATCH) break;
    }
    if (removed.length > 0) {
      metrics.failedExpired.inc(removed.length);
      logger.warn(
        { removed: removed.length, eventIds: removed.slice(0, LOGGED_IDS), retentionDays: retentionMs / 86_400_000 },
        'failed jobs expired: removed after the retention (WORKER_FAILED_RETENTION_DAYS)',
      );
    }
    return removed.length;
  };
  if (options.intervalMs === 0) return { stop: () => {}, runOnce };
  const timer = setInterval(() => {
    runOnce().catch((error: unknown) => logger.warn({ err: error }, 'expiring failed jobs failed; it runs again next interval'));
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), runOnce };
}
