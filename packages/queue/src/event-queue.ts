import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX, jobIdFor, type StripeEventJobData, type StripeEventJobResult } from './contract';
import { eventJobOptions } from './job-options';

export type EventQueue = Queue<StripeEventJobData, StripeEventJobResult, string>;

export interface QueueLocation {
  /** @defaultValue 'stripe-events' */
  name?: string;
  /** BullMQ key prefix; use a `{hash-tag}` on Redis Cluster. @defaultValue 'bull' */
  prefix?: string;
}

/** The event queue on a connection the caller owns (and quits after `queue.close()`). */
export function createEventQueue(connection: Redis, location: QueueLocation = {}): EventQueue {
  return new Queue<StripeEventJobData, StripeEventJobResult, string>(location.name ?? DEFAULT_QUEUE_NAME, {
    connection,
    prefix: location.prefix ?? DEFAULT_QUEUE_PREFIX,
    defaultJobOptions: eventJobOptions,
  });
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
 * Adds the event under its Stripe id. Resolves only once Redis has acknowledged the job;
 * rejects (never hangs) after `timeoutMs`. An add that timed out may still land: a retry
 * by Stripe then finds it by id, so this is safe.
 */
export async function enqueueEvent(
  queue: EventQueue,
  event: StripeEventJobData,
  timeoutMs = 2_000,
): Promise<EnqueueResult> {
  const jobId = jobIdFor(event);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnqueueTimeoutError(`Redis did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([addOnce(queue, event, jobId), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function addOnce(queue: EventQueue, event: StripeEventJobData, jobId: string): Promise<EnqueueResult> {
  // BullMQ's add() silently returns the existing id for a duplicate; ask first so the answer
  // can say so. Two concurrent first deliveries may both see "new": still one job.
  const redis = queue.opts.connection as Redis;
  if ((await redis.exists(queue.toKey(jobId))) === 1) return { jobId, duplicate: true };
  await queue.add(event.type, event, { jobId });
  return { jobId, duplicate: false };
}
