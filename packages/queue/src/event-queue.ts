import { DEFAULT_QUEUE_NAME, jobIdFor, type StripeEventJobData, type StripeEventJobResult } from './contract';
import { eventJobOptions, postgresEventJobOptions } from './job-options';
import type { EnqueueOutcome, QueueStore, StoreQueue } from './queue-store';

export type EventQueue = StoreQueue<StripeEventJobData, StripeEventJobResult>;

/** The events queue (`QUEUE_NAME`) on a store, with the event jobs' options (its backend's); the caller closes it. */
export function openEventQueue(store: QueueStore, name: string = DEFAULT_QUEUE_NAME): EventQueue {
  const defaultJobOptions = store.backend === 'postgres' ? postgresEventJobOptions : eventJobOptions;
  return store.queue<StripeEventJobData, StripeEventJobResult>(name, { defaultJobOptions });
}

export class EnqueueTimeoutError extends Error {
  override name = 'EnqueueTimeoutError';
}

/** `promise`, or an `EnqueueTimeoutError` after `timeoutMs`, whichever comes first. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EnqueueTimeoutError(`the queue did not acknowledge within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface EnqueueResult {
  jobId: string;
  outcome: EnqueueOutcome;
}

/**
 * Writes one event under its Stripe id (the scripts and the worker's recovery; the ingress batches
 * through `store.writeJobs`). Resolves only once the store has acknowledged the job; rejects (never
 * hangs) after `timeoutMs`. An add that timed out may still land: a retry then finds it by id.
 * `retryFailed`: a job of that id in the failed set takes this data and waits again (a redelivery).
 */
export async function enqueueEvent(
  store: QueueStore,
  queue: EventQueue,
  data: StripeEventJobData,
  options: { timeoutMs?: number; retryFailed?: boolean } = {},
): Promise<EnqueueResult> {
  const jobId = jobIdFor(data);
  const timeoutMs = options.timeoutMs ?? 2_000;
  const write = store.writeJobs(queue, [{ name: data.type, jobId, data }], {
    retryFailed: options.retryFailed ?? false,
    deadline: performance.now() + timeoutMs,
  });
  const [outcome] = await withTimeout(write, timeoutMs);
  return { jobId, outcome: outcome ?? 'duplicate' };
}
