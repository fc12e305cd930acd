import { Counter, Gauge, Histogram, type Registry } from '@billing/runtime/metrics';
import type { Sql } from '@billing/db/client';
import type { EventQueue } from '@billing/queue';

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

export function createWorkerMetrics(registry: Registry) {
  return {
    events: new Counter({
      name: 'billing_worker_events_total',
      help: 'Events processed, by type and ledger outcome (duplicate = already in the ledger; type reapplied = a stored unresolved event applied once its customer was known).',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    failures: new Counter({
      name: 'billing_worker_failures_total',
      help: 'Failed attempts, by type and kind (retry, final, invalid).',
      labelNames: ['type', 'kind'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'billing_worker_processing_seconds',
      help: 'Time from a job handed to the batcher to its transaction committed.',
      labelNames: ['type'] as const,
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    lag: new Histogram({
      name: 'billing_worker_event_lag_seconds',
      help: "From the event's created time at Stripe to applied here.",
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86_400],
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'billing_worker_batch_events',
      help: 'Events applied per Postgres transaction.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200],
      registers: [registry],
    }),
    unrecoverable: new Counter({
      name: 'billing_worker_unresolved_unrecoverable_total',
      help: 'Unresolved events whose user became findable but whose event is gone (not kept, job left the queue, not in the Events API): recover by hand.',
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'billing_worker_paused',
      help: '1 while the worker takes no jobs because Postgres is unreachable (see /readyz for why).',
      registers: [registry],
    }),
    failedExpired: new Counter({
      name: 'billing_worker_failed_jobs_expired_total',
      help: 'Failed jobs removed from Redis because they failed longer ago than WORKER_FAILED_RETENTION_DAYS.',
      registers: [registry],
    }),
    entitlementsIncomplete: new Counter({
      name: 'billing_worker_entitlements_incomplete_total',
      help: 'Entitlements summaries stored incomplete: they said has_more and the rest was not fetched (no STRIPE_SECRET_KEY, or the fetch failed).',
      registers: [registry],
    }),
    accessRevokedByClock: new Counter({
      name: 'billing_worker_access_revoked_by_clock_total',
      help: 'Users whose access the access clock revoked (a grace, a trial or a scheduled cancellation over with no event about it).',
      registers: [registry],
    }),
    thinFetches: new Counter({
      name: 'billing_worker_thin_fetches_total',
      help: 'Requests to the Stripe API for thin events (one per object named in a batch), by object kind and result (ok, missing, rate_limited, error).',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    thinRateLimited: new Counter({
      name: 'billing_worker_thin_rate_limited_total',
      help: 'Thin events sent back to the queue because Stripe answered 429 (no attempt spent).',
      registers: [registry],
    }),
    eventsByApiVersion: new Counter({
      name: 'billing_worker_events_by_api_version',
      help: 'Snapshot events received, by the API version they were rendered in (thin events are unversioned).',
      labelNames: ['api_version'] as const,
      registers: [registry],
    }),
    notificationsDelivered: new Counter({
      name: 'billing_worker_notifications_delivered_total',
      help: 'Outbox rows delivered to the host application (NOTIFY_URL answered 2xx).',
      registers: [registry],
    }),
    notificationsFailed: new Counter({
      name: 'billing_worker_notifications_failed_total',
      help: 'Failed notification attempts, by kind (retry: backoff follows; final: every attempt spent, the job stays failed for a retry from the dashboard).',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    outboxRelayed: new Counter({
      name: 'billing_worker_outbox_relayed_total',
      help: 'Outbox rows whose notification job this worker wrote, by path (commit: right after the transaction; scan: found without a job by the periodic relay scan).',
      labelNames: ['path'] as const,
      registers: [registry],
    }),
    outboxExpired: new Counter({
      name: 'billing_worker_outbox_expired_total',
      help: 'Outbox rows deleted after OUTBOX_RETENTION_DAYS.',
      registers: [registry],
    }),
    apiVersionMismatch: new Counter({
      name: 'billing_worker_api_version_mismatch_total',
      help: "Events rendered in an API version other than the Stripe SDK's pinned one.",
      labelNames: ['api_version'] as const,
      registers: [registry],
    }),
  };
}

/**
 * Queue depth by state, the age of the oldest waiting and of the oldest failed job, read from Redis
 * at scrape time, and how long failed jobs are kept (`failedRetentionMs`), so an alert can fire before one expires.
 */
export function registerQueueGauges(registry: Registry, queue: EventQueue, failedRetentionMs: number): void {
  new Gauge({
    name: 'billing_queue_jobs',
    help: 'Jobs in the event queue, by state.',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
      for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'billing_queue_oldest_waiting_age_seconds',
    help: 'Age of the oldest waiting job (0 when none wait).',
    registers: [registry],
    async collect() {
      const [oldest] = await queue.getJobs(['waiting'], 0, 0, true); // asc: oldest first
      this.set(oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'billing_queue_oldest_failed_age_seconds',
    help: 'Time since the oldest failed job failed (0 when none): it is removed once this passes billing_queue_failed_retention_seconds.',
    registers: [registry],
    async collect() {
      const [oldest] = await queue.getJobs(['failed'], 0, 0, true); // asc: oldest first
      this.set(oldest ? Math.max(0, (Date.now() - (oldest.finishedOn ?? oldest.timestamp)) / 1000) : 0);
    },
  });
  new Gauge({
    name: 'billing_queue_failed_retention_seconds',
    help: 'How long a failed job is kept after it failed (WORKER_FAILED_RETENTION_DAYS).',
    registers: [registry],
  }).set(failedRetentionMs / 1000);
}

/**
 * The outbox backlog, read from Postgres at scrape time (with NOTIFY_URL): rows not delivered yet,
 * and the age of the oldest of them. Every worker reports the same table: aggregate with max().
 */
export function registerOutboxGauges(registry: Registry, sql: Sql): void {
  new Gauge({
    name: 'billing_outbox_undelivered',
    help: 'Outbox rows not delivered to the host application yet.',
    registers: [registry],
    async collect() {
      const [row] = await sql<{ count: number }[]>`select count(*)::int as count from billing_outbox where delivered_at is null`;
      this.set(row?.count ?? 0);
    },
  });
  new Gauge({
    name: 'billing_outbox_oldest_undelivered_age_seconds',
    help: 'Age of the oldest outbox row not delivered yet (0 when none).',
    registers: [registry],
    async collect() {
      const [row] = await sql<{ age: number | null }[]>`
        select extract(epoch from now() - min(created_at))::float8 as age from billing_outbox where delivered_at is null`;
      this.set(Math.max(0, row?.age ?? 0));
    },
  });
}
