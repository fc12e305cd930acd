import { createConnection } from '@billing/db/client';
import { notificationQueueName, openNotificationQueue, type NotificationQueue, type QueueStore } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';
import { startNotificationSender, type NotificationSenderOptions } from './notification-sender';
import { startOutboxRelay } from './outbox-relay';

/** The host application's endpoint (`NOTIFY_URL`, `NOTIFY_SECRET`, `NOTIFY_MAX_PER_SECOND`); `timeoutMs`, `retry`, `orderWaitMs` are for tests. */
export type NotifySettings = Pick<
  NotificationSenderOptions,
  'url' | 'secret' | 'maxPerSecond' | 'timeoutMs' | 'retry' | 'orderWaitMs' | 'concurrency'
>;

export interface NotificationsOptions {
  store: QueueStore;
  /** The events queue (`QUEUE_NAME`); the notifications queue is `<it>-notifications`. */
  queueName: string;
  databaseUrl: string;
  notify: NotifySettings;
  /** Between relay scans (0: only `relayScan`), and how old a row without a job must be for it. @defaultValue 5000, 3000 */
  relayScanIntervalMs?: number;
  relayScanAfterMs?: number;
  /** The sender's BullMQ lock duration (`WORKER_LOCK_DURATION_MS`). @defaultValue 30000 */
  lockDurationMs?: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

export interface Notifications {
  queue: NotificationQueue;
  /** After a commit: writes these rows' jobs (the relay). */
  relay: (outboxIds: readonly number[]) => void;
  /** Writes the jobs of rows still without one now; resolves with how many. */
  relayScan: () => Promise<number>;
  waitUntilReady: () => Promise<void>;
  /** Stops sending (waits for deliveries under way) and relaying, closes the queue and connections (not the store). */
  close: () => Promise<void>;
}

/**
 * Delivery of the outbox to the host application: the notifications queue, the relay that gives
 * each committed row its job, and the sender that POSTs them — on connections of their own, so no
 * batch transaction is ever held for a delivery.
 */
export function startNotifications(options: NotificationsOptions): Notifications {
  const { store, notify, logger, metrics } = options;
  const queue = openNotificationQueue(store, notificationQueueName(options.queueName), notify.retry);
  const relayConnection = createConnection(options.databaseUrl, 'billing-worker-outbox-relay');
  const senderConnection = createConnection(options.databaseUrl, 'billing-worker-notify');
  const relay = startOutboxRelay({
    connection: relayConnection,
    store,
    queue,
    scanIntervalMs: options.relayScanIntervalMs,
    scanAfterMs: options.relayScanAfterMs,
    logger,
    metrics,
  });
  const sender = startNotificationSender({
    store,
    queue,
    connection: senderConnection,
    url: notify.url,
    secret: notify.secret,
    maxPerSecond: notify.maxPerSecond,
    timeoutMs: notify.timeoutMs,
    retry: notify.retry,
    orderWaitMs: notify.orderWaitMs,
    concurrency: notify.concurrency,
    lockDurationMs: options.lockDurationMs,
    logger,
    metrics,
  });
  return {
    queue,
    relay: relay.relay,
    relayScan: relay.scan,
    waitUntilReady: async () => void (await sender.waitUntilReady()),
    close: async () => {
      await sender.close();
      await relay.stop();
      await queue.close();
      await Promise.all([relayConnection, senderConnection].map((c) => c.end({ timeout: 5 })));
    },
  };
}
