import type { QueueStore } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';

/** Logs each change of the queue store's availability once (not every reconnect attempt). */
export function watchQueueStore(store: QueueStore, logger: Logger): void {
  store.onAvailability((available, reason) => {
    if (available) logger.info({ queue: store.where }, 'queue store ready');
    else logger.warn({ queue: store.where, err: reason }, 'queue store unavailable: webhooks are answered 503 until it returns');
  });
}
