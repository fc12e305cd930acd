import { Queue } from 'bullmq';
import { DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX, jobIdFor, type StripeEventJobData, type StripeEventJobResult } from './contract';
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
   * How many replicas must hold a job (`WAIT`) before `enqueueEvent` resolves; give the queue a
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

export class EnqueueTimeoutError extends Error {
  override name = 'EnqueueTimeoutError';
}

export interface EnqueueResult {
  jobId: string;
  /** A job with this id was already in Redis (any state), so nothing was added. */
  duplicate: boolean;
}

/**
 * Adds the event under its Stripe id. Resolves only once Redis has acknowledged the job — and,
 * with `minReplicasAck`, once that many replicas hold it — rejects (never hangs) after
 * `timeoutMs`, the whole of it. An add that timed out may still land: a retry by Stripe then
 * finds it by id, so this is safe.
 */
export async function enqueueEvent(
  queue: EventQueue,
  event: StripeEventJobData,
  timeoutMs = 2_000,
): Promise<EnqueueResult> {
  const jobId = jobIdFor(event);
  const deadline = performance.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnqueueTimeoutError(`Redis did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([addOnce(queue, event, jobId, deadline), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function addOnce(queue: EventQueue, event: StripeEventJobData, jobId: string, deadline: number): Promise<EnqueueResult> {
  // BullMQ's add() silently returns the existing id for a duplicate; ask first so the answer
  // can say so. Two concurrent first deliveries may both see "new": still one job.
  const redis = queue.opts.connection as RedisConnection;
  const duplicate = (await redis.exists(queue.toKey(jobId))) === 1;
  if (!duplicate) await queue.add(event.type, event, { jobId });
  // A duplicate too: the first delivery may have been refused (503) with its job on the primary
  // only, so the job this one finds is not known to be replicated either.
  await replicasAck.get(queue)?.acknowledge(deadline);
  return { jobId, duplicate };
}
