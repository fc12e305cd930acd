import type { AccessPolicy, BillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { withLease } from '@billing/db/lease';
import type { EventQueue } from '@billing/queue';
import { lastFullStateRun, stateSweep, DRIFT_CLASSES, type StateSweepReport } from '@billing/reconcile';
import type { Logger } from '@billing/runtime/logger';
import { Gauge, type Registry } from '@billing/runtime/metrics';
import type Stripe from 'stripe';
import { periodicTask } from './periodic-task';

/** The lease that lets one worker at a time run the scheduled state sweep (`worker_leases`). */
export const RECONCILE_LEASE = 'reconcile-state';
/** A sweeper that died lets go after this long; a live one renews while it sweeps. */
const LEASE_TTL_MS = 120_000;
/** How often each worker asks for the lease; the lease's `minIntervalMs` keeps runs an interval apart. */
const TICK_MS = 60_000;

export interface ReconcileScheduleOptions {
  /** `RECONCILE_INTERVAL`: between runs across all workers; 0: never (only `runOnce`). */
  intervalMs: number;
  /** `RECONCILE_REPAIR`. */
  repair: boolean;
  stripe: Stripe;
  /** Reads, the run's progress and the lease. */
  sql: Sql;
  /** One connection of its own for repairs (`applyEvents`). */
  connection: Sql;
  queue: EventQueue;
  config: BillingConfig;
  accessPolicy: AccessPolicy;
  logger: Logger;
  /** @defaultValue 60000 */
  tickMs?: number;
}

export interface ReconcileSchedule {
  /** Runs the sweep now unless another worker runs it, or one finished less than an interval ago (`force`: whatever the interval); resolves with its report, or undefined. */
  runOnce: (force?: boolean) => Promise<StateSweepReport | undefined>;
  stop: () => Promise<void>;
}

/**
 * The scheduled state sweep (docs/operations.md "Reconcile"): every subscription compared with
 * Stripe's, by one worker at a time across all workers (the lease), at most once per interval (the
 * lease's last finish), repairing only with `RECONCILE_REPAIR=true`. A run that stopped (a worker
 * killed) is resumed by the next from its last page.
 */
export function startReconcileSchedule(options: ReconcileScheduleOptions): ReconcileSchedule {
  const { logger } = options;
  const sweep = async () => {
    const report = await stateSweep(
      {
        stripe: options.stripe,
        sql: options.sql,
        connection: options.connection,
        queue: options.queue,
        config: options.config,
        applyOptions: { accessPolicy: options.accessPolicy },
        backoff: { onBackoff: (ms) => logger.info({ waitMs: Math.round(ms) }, 'reconcile: rate limited by Stripe, waiting') },
      },
      { repair: options.repair },
    );
    const fields = {
      drift: report.drifts.length,
      byClass: report.byClass,
      skipped: report.skipped.length,
      repaired: report.repaired.length,
    };
    if (report.drifts.length > 0) {
      logger.warn(
        { ...fields, alert: 'reconcile_drift', sample: report.drifts.slice(0, 20) },
        `ALERT: reconcile found drift between the tables and Stripe${options.repair ? ' (repaired)' : ': run npm run reconcile -- --repair'}`,
      );
    } else {
      logger.info(fields, 'reconcile: no drift');
    }
    return report;
  };
  const task = periodicTask(
    (force?: boolean) =>
      withLease(options.sql, RECONCILE_LEASE, { ttlMs: LEASE_TTL_MS, minIntervalMs: force ? 0 : options.intervalMs }, sweep),
    // Ticks often; the lease's last finish keeps runs an interval apart across all workers.
    {
      everyMs: options.intervalMs > 0 ? (options.tickMs ?? TICK_MS) : 0,
      logger,
      failure: 'reconcile: the scheduled sweep failed; it is tried again',
    },
  );
  return {
    runOnce: async (force = false) => {
      // A forced run waits for an attempt under way (a tick's), then makes its own.
      if (force) await task.settled();
      return task.runOnce(force);
    },
    stop: task.stop,
  };
}

/**
 * `billing_reconcile_drift{class}` and `billing_reconcile_last_success_timestamp_seconds`, read
 * at scrape time from the last full state sweep that ran to its end (scheduled or `npm run
 * reconcile`), so every worker exports the same values; and `billing_reconcile_interval_seconds`
 * (`RECONCILE_INTERVAL`), which the "no success for two intervals" alert reads. Before the first
 * run the last success is 0 (the first runs within a minute of a worker's start).
 */
export function registerReconcileGauges(registry: Registry, sql: Sql, intervalMs: number): void {
  let last: Awaited<ReturnType<typeof lastFullStateRun>>;
  let read: Promise<void> | undefined;
  // Both gauges read one query per scrape.
  const refresh = () =>
    (read ??= lastFullStateRun(sql)
      .then((run) => {
        last = run;
      })
      .catch(() => {})
      .finally(() => {
        setImmediate(() => (read = undefined));
      }));
  new Gauge({
    name: 'billing_reconcile_drift',
    help: 'Drift the last full reconcile state sweep found, by class (repaired or not).',
    labelNames: ['class'] as const,
    registers: [registry],
    async collect() {
      await refresh();
      if (!last) return;
      for (const cls of DRIFT_CLASSES) this.set({ class: cls }, last.drifts.filter((d) => d.class === cls).length);
    },
  });
  new Gauge({
    name: 'billing_reconcile_last_success_timestamp_seconds',
    help: 'When the last full reconcile state sweep ran to its end (Unix seconds).',
    registers: [registry],
    async collect() {
      await refresh();
      this.set(last?.finishedAt ?? 0);
    },
  });
  new Gauge({
    name: 'billing_reconcile_interval_seconds',
    help: 'RECONCILE_INTERVAL: between scheduled reconcile state sweeps (0: none scheduled).',
    registers: [registry],
  }).set(intervalMs / 1000);
}
