import { createEventQueue, workerConnection } from '@billing/queue';

/** Removes every key of a test's queue, so a run leaves the developer's Redis as it found it. */
export async function dropQueue(redisUrl: string, name: string): Promise<void> {
  const connection = workerConnection(redisUrl);
  const queue = createEventQueue(connection, { name });
  try {
    await queue.obliterate({ force: true });
  } finally {
    await queue.close();
    await connection.quit().catch(() => connection.disconnect());
  }
}
