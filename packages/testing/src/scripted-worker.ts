import { openQueueStore, type EventQueue, type QueueConfig } from '@billing/queue';
import { waitFor } from '@billing/testing/wait-for';
import { UnrecoverableError } from 'bullmq';

/** What the test worker does with a job on each run: fail it as invalid, complete it, or hold it active. */
export type Fate = 'fail' | 'complete' | 'hold';

export interface TestWorker {
  /** The fates of a job's runs, in order; the last one repeats. Unlisted jobs complete. */
  plan: (jobId: string, ...fates: Fate[]) => void;
  /** How many times the worker has started the job. */
  runs: (jobId: string) => number;
  /** Resolves once the job is in `state`. */
  until: (jobId: string, state: 'failed' | 'completed' | 'active' | 'waiting') => Promise<void>;
  /** Lets every held job complete. */
  release: () => void;
  close: () => Promise<void>;
}

/** A real BullMQ worker on `queue` (test-only processor) on either backend, to bring jobs into the states under test. */
export function startTestWorker(queue: EventQueue, config: QueueConfig): TestWorker {
  const plans = new Map<string, Fate[]>();
  const runs = new Map<string, number>();
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const store = openQueueStore(config, { role: 'consumer' });
  const worker = store.worker(
    queue.name,
    async (job) => {
      const id = job.id as string;
      const run = runs.get(id) ?? 0;
      runs.set(id, run + 1);
      const plan = plans.get(id) ?? ['complete'];
      const fate = plan[Math.min(run, plan.length - 1)];
      if (fate === 'fail') throw new UnrecoverableError('invalid event (test)');
      if (fate === 'hold') await held;
      return { outcome: 'applied' };
    },
    { concurrency: 10 },
  );
  return {
    plan: (jobId, ...fates) => void plans.set(jobId, fates),
    runs: (jobId) => runs.get(jobId) ?? 0,
    until: async (jobId, state) => {
      await waitFor(async () => (await queue.getJobState(jobId)) === state, `job ${jobId} ${state}`);
    },
    release: () => release(),
    close: async () => {
      release();
      await worker.close();
      await store.close();
    },
  };
}
