import type { Logger } from '@billing/runtime/logger';

export interface PeriodicTask<A extends unknown[], T> {
  /** Runs the task now — or joins the run under way, whatever its arguments. */
  runOnce: (...args: A) => Promise<T>;
  /** Waits for a run under way, if any (its failure is its caller's). */
  settled: () => Promise<void>;
  /** No more scheduled runs; waits for one under way. */
  stop: () => Promise<void>;
}

export interface Schedule {
  /** Between scheduled runs; 0: none (only `runOnce`). The first runs one interval after start. */
  everyMs: number;
  logger: Logger;
  /** Logged (warn) when a scheduled run fails; it runs again at the next interval. */
  failure: string;
}

/**
 * The worker's periodic work (the unresolved sweep, reconcile, outbox retention): one run at a
 * time in this process — a call while a run is under way gets that run — on a timer that never
 * keeps the process alive, stopped at shutdown after the run under way. Across workers, the task
 * itself takes a lease (`withLease`).
 */
export function periodicTask<A extends unknown[], T>(run: (...args: A) => Promise<T>, schedule: Schedule): PeriodicTask<A, T> {
  let running: Promise<T> | undefined;
  const runOnce = (...args: A): Promise<T> =>
    (running ??= run(...args).finally(() => {
      running = undefined;
    }));
  const settled = async () => {
    await running?.catch(() => {});
  };
  const timer =
    schedule.everyMs > 0
      ? setInterval(() => {
          (runOnce as () => Promise<T>)().catch((error: unknown) => schedule.logger.warn({ err: error }, schedule.failure));
        }, schedule.everyMs)
      : undefined;
  timer?.unref();
  return {
    runOnce,
    settled,
    stop: async () => {
      clearInterval(timer);
      await settled();
    },
  };
}
