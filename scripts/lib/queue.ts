import {
  createEventQueue,
  describeRedis,
  producerConnection,
  redisConfigFromEnv,
  type EventQueue,
  type RedisEnvValues,
} from '@billing/queue';
import { START_SERVICES_HINT } from './services';

export interface OpenQueue {
  queue: EventQueue;
  close: () => Promise<void>;
}

/**
 * The event queue for an operator script, on a fail-fast connection made by the apps' own
 * factory (plain URL, Sentinel, Cluster, TLS). Waits a bounded time for Redis, then says once
 * where it looked and what to start, instead of a client retrying forever.
 */
export async function openQueue(env: RedisEnvValues & { QUEUE_NAME: string; QUEUE_PREFIX: string }, timeoutMs = 5_000): Promise<OpenQueue> {
  const config = redisConfigFromEnv(env);
  const connection = producerConnection(config, { timeoutMs: 10_000 });
  const queue = createEventQueue(connection, { name: env.QUEUE_NAME, prefix: env.QUEUE_PREFIX });
  queue.on('error', () => {}); // the connection's errors, reported below or through the failing command
  const close = async () => {
    await queue.close().catch(() => {});
    await connection.quit().catch(() => connection.disconnect());
  };
  // Ready, or the first connection error, or the bound: a script reports at once instead of
  // retrying for as long as an app would.
  let timer: NodeJS.Timeout | undefined;
  let onError: ((error: Error) => void) | undefined;
  const ready = queue.waitUntilReady();
  ready.catch(() => {}); // lost the race below: the message says why
  try {
    await Promise.race([
      ready,
      new Promise((_, reject) => {
        onError = (error: Error) => reject(error);
        connection.once('error', onError);
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    connection.disconnect();
    await queue.close().catch(() => {});
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`Redis is not answering at ${describeRedis(config)} (${reason}).\n${START_SERVICES_HINT}`, { cause: error });
  } finally {
    clearTimeout(timer);
    if (onError) connection.off('error', onError);
  }
  connection.on('error', () => {}); // from here on, reported through the failing command
  return { queue, close };
}
