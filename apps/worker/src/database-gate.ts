import type { Logger } from '@billing/runtime/logger';

export type Readiness = { ready: true } | { ready: false; reason: string; since: string };

export interface DatabaseGateOptions {
  /** Resolves when Postgres answers. */
  probe: () => Promise<unknown>;
  /** Stops taking jobs (active ones finish or come back by themselves). */
  pause: () => Promise<void>;
  /** Takes jobs again; a rejection counts as losing the database again (paused, probed). */
  resume: () => Promise<void>;
  logger: Logger;
  /** Called with true while paused. */
  onChange?: (paused: boolean) => void;
  /**
   * Between probes, doubling from the first to the last.
   * @defaultValue [250, 1000]
   */
  probeIntervalMs?: [number, number];
}

export interface DatabaseGate {
  /** A batch failed because Postgres is unreachable: stop taking jobs and probe until it answers. */
  lost: (error: unknown) => void;
  readiness: () => Readiness;
  /** Stops probing (shutdown). */
  close: () => void;
}

/**
 * "Nothing is given up on while it can still succeed": while Postgres is unreachable the worker
 * takes no job (each would only spend an attempt), probes the database, and resumes by itself
 * when it answers — however long the outage lasts.
 */
export function databaseGate(options: DatabaseGateOptions): DatabaseGate {
  const [first, last] = options.probeIntervalMs ?? [250, 1_000];
  let down: { reason: string; since: Date } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = async (interval: number) => {
    try {
      await options.probe();
    } catch {
      if (!closed) probe(Math.min(interval * 2, last));
      return;
    }
    const outage = down;
    down = undefined;
    options.onChange?.(false);
    options.logger.info({ outageMs: outage ? Date.now() - outage.since.getTime() : 0 }, 'postgres answers again: taking jobs');
    try {
      await options.resume();
    } catch (error) {
      gate.lost(error);
    }
  };
  const probe = (interval: number) => {
    timer = setTimeout(() => void check(interval), interval);
    timer.unref();
  };

  const gate: DatabaseGate = {
    lost: (error) => {
      if (down || closed) return;
      down = {
        reason: `postgres unreachable: ${(error as { code?: string; message?: string }).code ?? (error as Error).message}`,
        since: new Date(),
      };
      options.onChange?.(true);
      options.logger.warn(
        { reason: down.reason },
        'postgres unreachable: the worker takes no jobs until it answers (no attempt is spent meanwhile)',
      );
      void options.pause().catch((pauseError: unknown) => options.logger.error({ err: pauseError }, 'could not pause the worker'));
      probe(first);
    },
    readiness: () => (down ? { ready: false, reason: down.reason, since: down.since.toISOString() } : { ready: true }),
    close: () => {
      closed = true;
      clearTimeout(timer);
    },
  };
  return gate;
}
