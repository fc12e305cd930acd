import { DelayedError, type Job } from 'bullmq';
import type { Sql } from '@billing/db/client';
import {
  DEFAULT_NOTIFICATION_RETRY,
  NOTIFICATION_BACKOFF,
  notificationJobId,
  notificationRetryDelay,
  type NotificationJobData,
  type NotificationJobResult,
  type NotificationQueue,
  type NotificationRetrySchedule,
  type QueueStore,
  type StoreWorker,
} from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import { Webhook } from 'standardwebhooks';
import type { WorkerMetrics } from './metrics';

export interface NotificationSenderOptions {
  store: QueueStore;
  queue: NotificationQueue;
  /** Postgres: reads the row at send time, sets `delivered_at`. */
  connection: Sql;
  /** `NOTIFY_URL`, `NOTIFY_SECRET`. */
  url: string;
  secret: string;
  /** `NOTIFY_MAX_PER_SECOND`: BullMQ's limiter on this queue. @defaultValue 50 */
  maxPerSecond?: number;
  /** Longest wait for the host's answer; past it the attempt failed. @defaultValue 15000 */
  timeoutMs?: number;
  /** Must match the queue's (`openNotificationQueue`). @defaultValue DEFAULT_NOTIFICATION_RETRY */
  retry?: NotificationRetrySchedule;
  /**
   * A row waiting for an earlier row of its subject looks again after this long, doubling at each
   * look up to `orderWaitMaxMs` (sooner: the earlier row's delivery promotes it), so rows held
   * behind a failing one during a long outage do not eat the rate. @defaultValue 5000, 900000
   */
  orderWaitMs?: number;
  orderWaitMaxMs?: number;
  /** Deliveries at once. @defaultValue 10 */
  concurrency?: number;
  /** BullMQ lock duration and stalled-check interval (renewed while a delivery runs): how soon a dead worker's deliveries return. @defaultValue 30000 */
  lockDurationMs?: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** The JSON body of a notification (docs/design.md "Host application contract"). */
export interface NotificationBody {
  id: number;
  type: string;
  sequence: number;
  subject: string;
  occurred_at: string;
  data: unknown;
}

interface OutboxRow {
  id: string;
  type: string;
  sequence: number;
  subject: string;
  occurred_at: Date;
  data: unknown;
  delivered_at: Date | null;
}

/** The host's answer was not a 2xx (or none came in time): the attempt failed, backoff follows. */
export class NotificationRejectedError extends Error {
  override name = 'NotificationRejectedError';
}

/**
 * The sender: a BullMQ worker on the notifications queue. For each job it reads its outbox row and
 * POSTs `{id, type, sequence, subject, occurred_at, data}` to `url`, signed per Standard Webhooks
 * (`webhook-id` = the outbox id); a 2xx within `timeoutMs` sets `delivered_at`, anything else
 * throws so the retry schedule applies. Per-subject order: while an earlier row of the same
 * subject is not delivered, the job goes back to delayed without spending an attempt
 * (`DelayedError`), and a delivery promotes the next row's job of its subject. A row already
 * delivered (a second job write, a retry after a lost acknowledgement) or gone (retention) is done.
 */
export function startNotificationSender(options: NotificationSenderOptions): StoreWorker<NotificationJobData, NotificationJobResult> {
  const { connection: sql, queue, logger, metrics } = options;
  const webhook = new Webhook(options.secret);
  const timeoutMs = options.timeoutMs ?? 15_000;
  const orderWaitMs = options.orderWaitMs ?? 5_000;
  const orderWaitMaxMs = options.orderWaitMaxMs ?? 900_000;
  const schedule = options.retry ?? DEFAULT_NOTIFICATION_RETRY;

  const promoteNext = async (row: OutboxRow) => {
    const [next] = await sql<{ id: string }[]>`
      select id from billing_outbox where subject = ${row.subject} and sequence > ${row.sequence} and delivered_at is null
      order by sequence limit 1`;
    if (!next) return;
    const job = await queue.getJob(notificationJobId(Number(next.id)));
    if (job && (await job.isDelayed())) await job.promote();
  };

  // A job promoted by its predecessor's delivery just as its delay ran out can be fetched twice
  // at once (seen on both backends under load): the second run shares the first's delivery.
  const inFlight = new Map<number, Promise<NotificationJobResult>>();
  const deliverOnce = (job: Job<NotificationJobData, NotificationJobResult>, token?: string): Promise<NotificationJobResult> => {
    const outboxId = job.data.outboxId;
    const running = inFlight.get(outboxId);
    if (running) return running;
    const delivery = send(job, token).finally(() => inFlight.delete(outboxId));
    inFlight.set(outboxId, delivery);
    return delivery;
  };

  const send = async (job: Job<NotificationJobData, NotificationJobResult>, token?: string): Promise<NotificationJobResult> => {
    const outboxId = job.data.outboxId;
    const [row] = await sql<OutboxRow[]>`
      select id, type, sequence, subject, occurred_at, data, delivered_at from billing_outbox where id = ${outboxId}`;
    if (!row) return { status: 0, outcome: 'gone' };
    if (row.delivered_at) return { status: 0, outcome: 'already_delivered' };
    const [earlier] = await sql<{ id: string }[]>`
      select id from billing_outbox where subject = ${row.subject} and sequence < ${row.sequence} and delivered_at is null limit 1`;
    if (earlier && token) {
      // Each look started the job without a failure: how many times it has waited so far.
      const waits = Math.max(0, job.attemptsStarted - job.attemptsMade - 1);
      await job.moveToDelayed(Date.now() + Math.min(orderWaitMaxMs, orderWaitMs * 2 ** Math.min(waits, 20)), token);
      throw new DelayedError();
    }

    const body = JSON.stringify({
      id: Number(row.id),
      type: row.type,
      sequence: row.sequence,
      subject: row.subject,
      occurred_at: row.occurred_at.toISOString(),
      data: row.data,
    } satisfies NotificationBody);
    const messageId = String(row.id);
    const now = new Date();
    let status: number;
    try {
      const response = await fetch(options.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'billing-webhooks',
          'webhook-id': messageId,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': webhook.sign(messageId, now, body),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'manual',
      });
      status = response.status;
      await response.body?.cancel().catch(() => {});
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      throw new NotificationRejectedError(`the host could not be reached: ${reason}`);
    }
    if (status < 200 || status > 299) throw new NotificationRejectedError(`the host answered ${status}`);

    await sql`update billing_outbox set delivered_at = now() where id = ${outboxId} and delivered_at is null`;
    metrics.notificationsDelivered.inc();
    await promoteNext(row).catch((error: unknown) =>
      logger.debug({ err: error, outboxId }, 'could not promote the next row of the subject'),
    );
    return { status, outcome: 'delivered' };
  };

  const worker = options.store.worker<NotificationJobData, NotificationJobResult>(queue.name, deliverOnce, {
    concurrency: options.concurrency ?? 10,
    lockDuration: options.lockDurationMs ?? 30_000,
    stalledInterval: options.lockDurationMs ?? 30_000,
    limiter: { max: options.maxPerSecond ?? 50, duration: 1_000 },
    maxStalledCount: 3,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) =>
        type === NOTIFICATION_BACKOFF ? notificationRetryDelay(attemptsMade, schedule) : 1_000,
    },
  });
  worker.on('failed', (job: Job<NotificationJobData> | undefined, error: Error) => {
    if (!job || error.name === 'DelayedError') return;
    const fields = { outboxId: job.data?.outboxId, type: job.name, attemptsMade: job.attemptsMade, reason: error.message };
    if (job.attemptsMade >= (job.opts.attempts ?? 1)) {
      metrics.notificationsFailed.inc({ kind: 'final' });
      logger.error(
        { ...fields, alert: 'notification_failed_permanently' },
        'ALERT: a notification to the host failed for good; fix the host, then retry it from the dashboard',
      );
    } else {
      metrics.notificationsFailed.inc({ kind: 'retry' });
      logger.warn({ ...fields, retryInMs: notificationRetryDelay(job.attemptsMade, schedule) }, 'notification not delivered; will retry');
    }
  });
  worker.on('error', (error) => logger.error({ err: error }, 'notifications worker error'));
  return worker;
}
