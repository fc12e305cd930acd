import {
  openEventQueue,
  openQueueStore,
  queueConfigFromEnv,
  queueNamesFromEnv,
  type EventQueue,
  type QueueEnv,
  type QueueStore,
} from '@billing/queue';
import { START_SERVICES_HINT } from './services';

export interface OpenQueue {
  store: QueueStore;
  queue: EventQueue;
  close: () => Promise<void>;
}

/**
 * The event queue for an operator script, on a fail-fast producer store made by the apps' own
 * factory (Postgres, or Redis: plain URL, Sentinel, Cluster, TLS). Waits a bounded time for the
 * store, then says once where it looked and what to start, instead of a client retrying forever.
 */
export async function openQueue(env: QueueEnv, timeoutMs = 5_000): Promise<OpenQueue> {
  const store = openQueueStore(queueConfigFromEnv(env), { role: 'producer', timeoutMs: 10_000, applicationName: 'billing-script' });
  const queue = openEventQueue(store, queueNamesFromEnv(env).events);
  queue.on('error', () => {}); // the connection's errors, reported below or through the failing command
  const close = async () => {
    await queue.close().catch(() => {});
    await store.close().catch(() => {});
  };
  // Ready, or the store's first failure, or the bound: a script reports at once instead of
  // retrying for as long as an app would.
  let timer: NodeJS.Timeout | undefined;
  const ready = queue.waitUntilReady();
  ready.catch(() => {}); // lost the race below: the message says why
  try {
    await Promise.race([
      ready,
      new Promise((_, reject) => {
        store.onAvailability((available, reason) => {
          if (!available) reject(new Error(reason ?? 'unavailable'));
        });
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    await close();
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`the queue is not answering at ${store.where} (${reason}).\n${START_SERVICES_HINT}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
  return { store, queue, close };
}
