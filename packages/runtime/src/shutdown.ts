import type { Logger } from 'pino';

export interface ShutdownStep {
  name: string;
  run: () => Promise<unknown> | unknown;
}

export interface ShutdownOptions {
  /**
   * After this long the process exits 1 even if a step still hangs.
   * @defaultValue 30000
   */
  deadlineMs?: number;
  signals?: NodeJS.Signals[];
}

/**
 * One graceful-shutdown path per process: on the first SIGTERM/SIGINT run the steps in order,
 * each in its own try/catch, then exit 0 (or 1 if a step failed or the deadline passed).
 * A second signal while shutting down exits at once with 1.
 */
export function onShutdown(logger: Logger, steps: ShutdownStep[], options: ShutdownOptions = {}): () => Promise<void> {
  const { deadlineMs = 30_000, signals = ['SIGTERM', 'SIGINT'] } = options;
  let running: Promise<void> | undefined;

  const shutdown = (signal: string): Promise<void> => {
    if (running) {
      logger.warn({ signal }, 'second signal during shutdown: exiting now');
      process.exit(1);
    }
    running = (async () => {
      logger.info({ signal }, 'shutting down');
      const deadline = setTimeout(() => {
        logger.error({ deadlineMs }, 'shutdown deadline passed: exiting with work unfinished');
        process.exit(1);
      }, deadlineMs);
      deadline.unref();
      let failed = false;
      for (const step of steps) {
        try {
          await step.run();
        } catch (error) {
          failed = true;
          logger.error({ err: error, step: step.name }, 'shutdown step failed');
        }
      }
      clearTimeout(deadline);
      logger.info({ failed }, 'stopped');
      process.exit(failed ? 1 : 0);
    })();
    return running;
  };

  for (const signal of signals) process.on(signal, () => void shutdown(signal));
  return () => shutdown('manual');
}
