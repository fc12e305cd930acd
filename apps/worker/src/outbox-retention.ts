import type { Sql } from '@billing/db/client';
import { withLease } from '@billing/db/lease';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';
import { periodicTask } from './periodic-task';

/** The lease that lets one worker at a time delete expired outbox rows (`worker_leases`). */
export const OUTBOX_RETENTION_LEASE = 'outbox-retention';
/** Rows per delete statement. */
const DELETE_PAGE = 5_000;

export interface OutboxRetentionOptions {
  connection: Sql;
  /** `OUTBOX_RETENTION_DAYS`, in milliseconds. */
  retentionMs: number;
  /**
   * Whether rows are sent (`NOTIFY_URL`): then a row not delivered yet is kept past the retention
   * (its job, failed for good, may be retried); without, nothing will send it and it expires too.
   */
  notifying: boolean;
  /** Between runs (0: only when `runOnce` is called); the first runs one interval after start. @defaultValue 3600000 */
  intervalMs?: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

/**
 * Deletes outbox rows older than the retention (by `created_at`), in pages, under a lease so one
 * worker at a time does it. Sequences go on: `billing_outbox_subjects` keeps each subject's last.
 */
export function startOutboxRetention(options: OutboxRetentionOptions): { runOnce: () => Promise<number>; stop: () => Promise<void> } {
  const { connection: sql, logger, metrics } = options;
  const expire = async () => {
    let total = 0;
    for (;;) {
      const deleted = await sql`
        delete from billing_outbox where id in (
          select id from billing_outbox
          where created_at < now() - ${options.retentionMs} * interval '1 millisecond'
            and (delivered_at is not null or ${!options.notifying})
          order by id limit ${DELETE_PAGE})`;
      total += deleted.count;
      if (deleted.count < DELETE_PAGE) break;
    }
    if (total > 0) {
      metrics.outboxExpired.inc(total);
      logger.info({ rows: total, retentionDays: options.retentionMs / 86_400_000 }, 'outbox rows past their retention deleted');
    }
    return total;
  };
  const task = periodicTask(async () => (await withLease(sql, OUTBOX_RETENTION_LEASE, { ttlMs: 60_000 }, expire)) ?? 0, {
    everyMs: options.intervalMs ?? 3_600_000,
    logger,
    failure: 'outbox retention failed; it runs again next interval',
  });
  return { runOnce: task.runOnce, stop: task.stop };
}
