import { Redis, type RedisOptions } from 'ioredis';

export interface ProducerConnectionOptions {
  /**
   * Upper bound for one Redis command, and for connecting.
   * @defaultValue 2000
   */
  timeoutMs?: number;
}

/**
 * Connection for producers that answer HTTP (the ingress): fail fast instead of queueing
 * commands while Redis is away, so a request turns into a 503 within the bound; reconnects
 * by itself forever, so the process recovers when Redis returns.
 */
export function producerConnection(url: string, options: ProducerConnectionOptions = {}): Redis {
  const timeoutMs = options.timeoutMs ?? 2_000;
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: (times) => Math.min(100 * times, 1_000),
  } satisfies RedisOptions);
}

/**
 * Connection for workers and other long-lived consumers: BullMQ requires
 * `maxRetriesPerRequest: null` for blocking commands; commands wait for a reconnect.
 */
export function workerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
  } satisfies RedisOptions);
}
