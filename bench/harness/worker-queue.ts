import { jobIdFor, openEventQueue, openQueueStore, type EventQueue, type StripeEventJobData } from '@billing/queue';
import type { StripeEvent } from '@billing/stripe-simulator/events';
import { redisBackend, type BenchBackend } from './queue-backend';
import { signedJob } from '@billing/testing/job-signing';

/** The bench's own handle on a queue: fill it while paused, release it, read its counts, drop it. */
export interface BenchQueue {
  name: string;
  queue: EventQueue;
  /** Pauses the queue and adds `events` as the ingress would (job id = event id, the contract's options). */
  fillPaused: (events: readonly StripeEvent[]) => Promise<void>;
  resume: () => Promise<void>;
  counts: () => Promise<Record<string, number>>;
  /** Removes every key of the queue and closes the connection. */
  drop: () => Promise<void>;
}

const open = new Set<BenchQueue>();

/** Drops every queue still open (on failure or Ctrl-C), so Redis is left as it was found. */
export async function dropOpenQueues(): Promise<void> {
  await Promise.all([...open].map((q) => q.drop()));
}

export function openBenchQueue(name: string, backend: BenchBackend = redisBackend()): BenchQueue {
  const store = openQueueStore(backend.config, { role: 'consumer', applicationName: 'billing-bench-queue' });
  const queue = openEventQueue(store, name);
  const handle: BenchQueue = {
    name,
    queue,
    fillPaused: async (events) => {
      await queue.pause();
      for (let i = 0; i < events.length; i += 1_000) {
        const chunk = events.slice(i, i + 1_000) as unknown as StripeEventJobData[];
        await queue.addBulk(chunk.map((event) => ({ name: event.type, data: signedJob(event), opts: { jobId: jobIdFor(event) } })));
      }
    },
    resume: () => queue.resume(),
    counts: () => queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
    drop: async () => {
      if (!open.delete(handle)) return;
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close().catch(() => {});
      await store.close().catch(() => {});
    },
  };
  open.add(handle);
  return handle;
}
