import type { EventQueue, RedisConnection } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';

/**
 * Logs each change of Redis availability once (not every reconnect attempt) and gives the
 * queue an `error` listener: an EventEmitter `error` without one would crash the process
 * on the first outage.
 */
export function watchRedis(queue: EventQueue, redis: RedisConnection, logger: Logger): void {
  let state: 'unknown' | 'up' | 'down' = redis.status === 'ready' ? 'up' : 'unknown';
  queue.on('error', (error: Error) => {
    if (state === 'down') return;
    state = 'down';
    logger.warn({ err: error.message }, 'redis unavailable: webhooks are answered 503 until it returns');
  });
  redis.on('ready', () => {
    if (state === 'up') return;
    state = 'up';
    logger.info('redis ready');
  });
}
