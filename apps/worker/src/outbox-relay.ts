import type { Sql } from '@billing/db/client';
import { enqueueNotifications, type NotificationQueue, type QueueStore } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

export interface OutboxRelayOptions {
  /** Postgres: reads the rows without a job, sets their `enqueued_at`. */
  connection: Sql;
  store: QueueStore;
  queue: NotificationQueue;
  /** Between scans for rows without a job (0: only when `scan` is called); the first runs at start. @defaultValue 5000 */
  scanIntervalMs?: number;
  /** A row is the scan's once it is this old without a job (the commit path writes it sooner). @defaultValue 3000 */
  scanAfterMs?: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

export interface OutboxRelay {
  /** After a commit: writes the jobs of these rows now (never throws; the scan catches what fails). */
  relay: (outboxIds: readonly number[]) => void;
  /** Writes the jobs of every row older than `scanAfterMs` still without one; resolves with how many. */
  scan: () => Promise<number>;
  /** No more scans; waits for the writes under way. */
  stop: () => Promise<void>;
}

/** Rows per scan step. */
const SCAN_PAGE = 500;

/**
 * The relay from the outbox to the notifications queue. Rows are committed with `enqueued_at` null;
 * right after the commit the worker writes their jobs (`relay`) and sets `enqueued_at`. A worker
 * killed between the two leaves rows without it, which the periodic scan (at start, then every
 * `scanIntervalMs`, on every worker) writes. A row written twice meets its own job id and changes
 * nothing, so the two paths and several workers need no lease. No batch transaction is held open:
 * the relay runs after the commit, on a connection of its own.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { connection: sql, store, queue, logger, metrics } = options;
  const pending = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    pending.add(promise);
    void promise.finally(() => pending.delete(promise)).catch(() => {});
    return promise;
  };

  // bigint ids come back from postgres-js as strings.
  const write = async (found: ReadonlyArray<{ id: string; type: string }>, path: 'commit' | 'scan') => {
    if (found.length === 0) return 0;
    const rows = found.map((row) => ({ id: Number(row.id), type: row.type }));
    await enqueueNotifications(store, queue, rows);
    const ids = rows.map((row) => row.id);
    await sql`update billing_outbox set enqueued_at = now() where id = any(${ids}::bigint[]) and enqueued_at is null`;
    metrics.outboxRelayed.inc({ path }, rows.length);
    return rows.length;
  };

  const relay = (outboxIds: readonly number[]) => {
    if (outboxIds.length === 0) return;
    const ids = [...outboxIds];
    void track(
      (async () => {
        const rows = await sql<{ id: string; type: string }[]>`
          select id, type from billing_outbox where id = any(${ids}::bigint[]) and enqueued_at is null order by id`;
        await write(rows, 'commit');
      })(),
    ).catch((error: unknown) =>
      logger.warn({ err: error, outboxIds: ids }, 'could not write the notification jobs after commit; the relay scan writes them'),
    );
  };

  let scanning: Promise<number> | undefined;
  const scanAfterMs = options.scanAfterMs ?? 3_000;
  const scanOnce = async () => {
    let total = 0;
    for (;;) {
      const rows = await sql<{ id: string; type: string }[]>`
        select id, type from billing_outbox
        where enqueued_at is null and created_at < now() - ${scanAfterMs} * interval '1 millisecond'
        order by id limit ${SCAN_PAGE}`;
      total += await write(rows, 'scan');
      if (rows.length < SCAN_PAGE) break;
    }
    if (total > 0) logger.info({ rows: total }, 'relay scan: notification jobs written for outbox rows without one');
    return total;
  };
  const scan = () => (scanning ??= track(scanOnce()).finally(() => (scanning = undefined)));
  const tick = () =>
    void scan().catch((error: unknown) => logger.warn({ err: error }, 'the outbox relay scan failed; it runs again next interval'));

  const intervalMs = options.scanIntervalMs ?? 5_000;
  const timer = intervalMs > 0 ? setInterval(tick, intervalMs) : undefined;
  timer?.unref();
  if (intervalMs > 0) tick();
  return {
    relay,
    scan,
    stop: async () => {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}
