import type { JobsOptions } from 'bullmq';
import type { EnqueueOutcome, QueueStore, StoreQueue } from './queue-store';

/** Job data of a notification: only the outbox id; the row is read when it is sent. */
export interface NotificationJobData {
  outboxId: number;
}

/**
 * What the sender returns for a job (shown in the dashboard): `delivered` with the host's HTTP
 * status; `already_delivered` (an earlier job delivered it) or `gone` (deleted by retention), status 0.
 */
export interface NotificationJobResult {
  status: number;
  outcome: 'delivered' | 'already_delivered' | 'gone';
}

export type NotificationQueue = StoreQueue<NotificationJobData, NotificationJobResult>;

/** The backoff type the notifications' worker computes (`notificationRetryDelay`). */
export const NOTIFICATION_BACKOFF = 'notification';

export interface NotificationRetrySchedule {
  /** Attempts in all, the first included. @defaultValue 22 */
  attempts: number;
  /** Delay before the first retry; each next one doubles. @defaultValue 30 s */
  firstDelayMs: number;
  /** The longest delay between two attempts. @defaultValue 6 h */
  maxDelayMs: number;
}

/**
 * 30 s doubling (30 s, 1 min, 2 min … 4 h 16 min), capped at 6 h: 21 retries wait
 * 30 s × (2¹⁰ − 1) = 8 h 31 min 30 s for the first ten, then 11 × 6 h = 66 h — 74 h 31 min 30 s
 * (3.1 days) from the first attempt to the last, past the 3 days a host may be away.
 */
export const DEFAULT_NOTIFICATION_RETRY: NotificationRetrySchedule = {
  attempts: 22,
  firstDelayMs: 30_000,
  maxDelayMs: 6 * 3_600_000,
};

/** The wait after `attemptsMade` failed attempts (1 = after the first). */
export function notificationRetryDelay(attemptsMade: number, schedule: NotificationRetrySchedule = DEFAULT_NOTIFICATION_RETRY): number {
  return Math.min(schedule.maxDelayMs, schedule.firstDelayMs * 2 ** Math.max(0, attemptsMade - 1));
}

/** From the first attempt to the last, when every attempt fails at once. */
export function notificationRetrySpanMs(schedule: NotificationRetrySchedule = DEFAULT_NOTIFICATION_RETRY): number {
  let total = 0;
  for (let attempt = 1; attempt < schedule.attempts; attempt += 1) total += notificationRetryDelay(attempt, schedule);
  return total;
}

/**
 * Default options of a notification job: the schedule's attempts under the custom backoff (the
 * sender's worker computes it); delivered jobs kept a day (the id dedupes a relay's second write of
 * a row already delivered); failed-for-good jobs stay for a retry from the dashboard.
 */
export function notificationJobOptions(schedule: NotificationRetrySchedule = DEFAULT_NOTIFICATION_RETRY): JobsOptions {
  return {
    attempts: schedule.attempts,
    backoff: { type: NOTIFICATION_BACKOFF, delay: schedule.firstDelayMs },
    removeOnComplete: { age: 24 * 3_600, count: 100_000 },
    removeOnFail: false,
  };
}

/** The notifications queue of an events queue: `<QUEUE_NAME>-notifications`. */
export function notificationQueueName(eventsQueue: string): string {
  return `${eventsQueue}-notifications`;
}

/** Job id of an outbox row: BullMQ refuses bare integers and `:`, so a prefix. */
export function notificationJobId(outboxId: number): string {
  if (!Number.isSafeInteger(outboxId) || outboxId < 1) throw new TypeError(`not an outbox id: ${String(outboxId)}`);
  return `outbox-${outboxId}`;
}

/** The notifications queue (`<QUEUE_NAME>-notifications`) on a store; the caller closes it. */
export function openNotificationQueue(
  store: QueueStore,
  name: string,
  schedule: NotificationRetrySchedule = DEFAULT_NOTIFICATION_RETRY,
): NotificationQueue {
  return store.queue<NotificationJobData, NotificationJobResult>(name, { defaultJobOptions: notificationJobOptions(schedule) });
}

/**
 * Writes one job per outbox row (named by its type) in one atomic step; a row whose job exists
 * already is a `duplicate` and changes nothing, so writing a row twice is harmless.
 */
export function enqueueNotifications(
  store: QueueStore,
  queue: NotificationQueue,
  rows: ReadonlyArray<{ id: number; type: string }>,
): Promise<EnqueueOutcome[]> {
  return store.writeJobs(
    queue,
    rows.map((row) => ({ name: row.type, jobId: notificationJobId(row.id), data: { outboxId: row.id } })),
    { deadline: performance.now() + 10_000 },
  );
}
