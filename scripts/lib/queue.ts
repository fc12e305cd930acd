import { createEventQueue, producerConnection, type EventQueue } from '@billing/queue';
import type { Redis } from 'ioredis';
import { redisProblem, START_SERVICES_HINT, where } from './services';

export interface OpenQueue {
  queue: EventQueue;
  close: () => Promise<void>;
}

/**
 * The event queue for an operator script: checks Redis answers first (one clear message
 * instead of a client retrying forever), then opens the queue on a fail-fast connection.
 */
export async function openQueue(env: { REDIS_URL: string; QUEUE_NAME: string; QUEUE_PREFIX: string }): Promise<OpenQueue> {
  const problem = await redisProblem(env.REDIS_URL);
  if (problem) throw new Error(`Redis is not answering at ${where(env.REDIS_URL, 6379)} (${problem}).\n${START_SERVICES_HINT}`);
  const connection: Redis = producerConnection(env.REDIS_URL, { timeoutMs: 10_000 });
  connection.on('error', () => {}); // reported through the failing command instead
  const queue = createEventQueue(connection, { name: env.QUEUE_NAME, prefix: env.QUEUE_PREFIX });
  await queue.waitUntilReady();
  return {
    queue,
    close: async () => {
      await queue.close().catch(() => {});
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
