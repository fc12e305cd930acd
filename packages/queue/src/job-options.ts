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

/**
 * The same on BullMQ's Postgres backend, but completed jobs are kept by age alone. Its retention
 * by count (`apply_retention`, run at every completion) ranks every completed job of the queue to
 * find those past the count, so each completion costs in proportion to the completed jobs kept:
 * measured in `npm run bench -- --only queue-length`, the same 1,000-event drain ran at 0.37× its
 * rate once 7,000 more jobs had completed. Retention by age is a range of an index
 * (`job_finished_idx`); a table on disk needs no count cap to stay within memory, as Redis does.
 */
export const postgresEventJobOptions = {
  ...eventJobOptions,
  removeOnComplete: { age: eventJobOptions.removeOnComplete.age },
} satisfies JobsOptions;
