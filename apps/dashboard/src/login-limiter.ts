import { RateLimiterMemory } from 'rate-limiter-flexible';

export interface LoginLimitOptions {
  /** Failed logins a client address may make within the window before it is locked out. @defaultValue 10 */
  maxFailures?: number;
  /** The window, in seconds, counted from a client's first failure. @defaultValue 900 */
  windowSeconds?: number;
}

export const DEFAULT_LOGIN_MAX_FAILURES = 10;
export const DEFAULT_LOGIN_WINDOW_SECONDS = 900;

export interface LoginLimiter {
  /** Milliseconds until `client` may try again; 0 while it is not locked out. */
  lockedFor(client: string): Promise<number>;
  /** Counts a failed login; returns the client's failures in the current window. */
  recordFailure(client: string): Promise<number>;
  readonly maxFailures: number;
  readonly windowSeconds: number;
}

/**
 * Counts failed logins per client address, in this process's memory (one dashboard process).
 * Only failures count, so an operator's polling tab never trips it; once a client has failed
 * `maxFailures` times, every request from it is refused, right credentials too (else the 429s
 * would only tell an attacker which guess was right), until the window ends.
 */
export function createLoginLimiter(options: LoginLimitOptions = {}): LoginLimiter {
  const maxFailures = options.maxFailures ?? DEFAULT_LOGIN_MAX_FAILURES;
  const windowSeconds = options.windowSeconds ?? DEFAULT_LOGIN_WINDOW_SECONDS;
  const failures = new RateLimiterMemory({ keyPrefix: 'dashboard-login', points: maxFailures, duration: windowSeconds });
  return {
    maxFailures,
    windowSeconds,
    async lockedFor(client) {
      const state = await failures.get(client);
      if (state === null || state.consumedPoints < maxFailures) return 0;
      return Math.max(state.msBeforeNext, 1);
    },
    async recordFailure(client) {
      // `penalty` counts without refusing; refusing is `lockedFor`'s job.
      return (await failures.penalty(client)).consumedPoints;
    },
  };
}
