import { Queue } from 'bullmq';
import { DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX, type StripeEventJobData, type StripeEventJobResult } from './contract';
import { eventJobOptions } from './job-options';
import { hasHashTag } from './redis-config';
import { isCluster, type RedisConnection } from './redis-connection';
import { replicaAckGroup, type ReplicaAck } from './replica-ack-group';

export type EventQueue = Queue<StripeEventJobData, StripeEventJobResult, string>;

export interface QueueLocation {
  /** @defaultValue 'stripe-events' */
  name?: string;
  /** BullMQ key prefix; use a `{hash-tag}` on Redis Cluster. @defaultValue 'bull' */
  prefix?: string;
}

export interface EventQueueOptions {
  /**
   * How many replicas must hold a job (`WAIT`) before an enqueue resolves; give the queue a
   * connection of its own then, since `WAIT` holds up every later command on it.
   * @defaultValue 0
   */
  minReplicasAck?: number;
}

const replicasAck = new WeakMap<EventQueue, { count: number; acknowledge: ReplicaAck }>();

/** The event queue on a connection the caller owns (and quits after `queue.close()`). */
export function createEventQueue(connection: RedisConnection, location: QueueLocation = {}, options: EventQueueOptions = {}): EventQueue {
  const prefix = location.prefix ?? DEFAULT_QUEUE_PREFIX;
  if (isCluster(connection) && !hasHashTag(prefix)) {
    throw new TypeError(`createEventQueue: prefix "${prefix}" has no {hash-tag}; on Redis Cluster a queue's keys must share one slot`);
  }
  const queue = new Queue<StripeEventJobData, StripeEventJobResult, string>(location.name ?? DEFAULT_QUEUE_NAME, {
    connection,
    prefix,
    defaultJobOptions: eventJobOptions,
  });
  if (options.minReplicasAck) {
    // Every key of the queue is in the prefix's slot, so any of them names the node on a cluster.
    const acknowledge = replicaAckGroup(connection, options.minReplicasAck, queue.toKey(''));
    replicasAck.set(queue, { count: options.minReplicasAck, acknowledge });
  }
  return queue;
}

/** `EventQueueOptions.minReplicasAck` of a queue made by `createEventQueue`. */
export function minReplicasAckOf(queue: EventQueue): number {
  return replicasAck.get(queue)?.count ?? 0;
}

/**
 * Resolves once `minReplicasAck` replicas hold every write acknowledged so far on the queue's
 * connection (at once when the queue asks for none); rejects with `ReplicaAckError` past
 * `deadline` (`performance.now()`). Concurrent callers share one `WAIT`.
 */
export async function acknowledgeReplicas(queue: EventQueue, deadline: number): Promise<void> {
  await replicasAck.get(queue)?.acknowledge(deadline);
}

export class EnqueueTimeoutError extends Error {
  override name = 'EnqueueTimeoutError';
}

/** `promise`, or an `EnqueueTimeoutError` after `timeoutMs`, whichever comes first. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnqueueTimeoutError(`Redis did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
