import type { JobsOptions } from 'bullmq';

const DAY_SECONDS = 24 * 60 * 60;

/**
 * Attempts per event. With exponential backoff from 1 s this spans about 34 minutes
 * (1 + 2 + … + 1024 s), enough to ride out a database restart or failover.
 */
export const EVENT_ATTEMPTS = 12;

/** Default options for every event job. */
export const eventJobOptions = {
  attempts: EVENT_ATTEMPTS,
  backoff: { type: 'exponential', delay: 1_000, jitter: 0.25 },
  // Stripe redelivers for up to 3 days; keeping completed jobs 4 days lets the job id absorb
  // those redeliveries in Redis. The count cap bounds memory under a burst; the Postgres
  // ledger stays the source of truth for idempotency once a job is evicted.
  removeOnComplete: { age: 4 * DAY_SECONDS, count: 250_000 },
  // Failed jobs are money not yet applied: they stay for an operator to retry, until the worker
  // removes them WORKER_FAILED_RETENTION_DAYS after they failed (failed-expiry.ts, an alert first).
  removeOnFail: false,
} satisfies JobsOptions;
