import { setTimeout as sleep } from 'node:timers/promises';

export interface BackoffOptions {
  /** Attempts in all, the first included. @defaultValue 30 */
  attempts?: number;
  /** Wait when the 429 says no `Retry-After`, doubled each time (ms). @defaultValue 1000 */
  baseDelayMs?: number;
  /** The longest wait between attempts (ms). @defaultValue 60000 */
  maxDelayMs?: number;
  /** Told of each wait (logs). */
  onBackoff?: (waitMs: number, attempt: number) => void;
  sleep?: (ms: number) => Promise<unknown>;
}

/** Whether the Stripe SDK's error is a 429 (`StripeRateLimitError`: `rate_limit`, `lock_timeout`). */
export function isRateLimited(error: unknown): boolean {
  const e = error as { statusCode?: unknown; type?: unknown } | null;
  return typeof e === 'object' && e !== null && (e.statusCode === 429 || e.type === 'StripeRateLimitError');
}

/** `Retry-After` of a Stripe SDK error, in ms (seconds, or an HTTP date); undefined when absent. */
export function retryAfterMs(error: unknown, now = Date.now()): number | undefined {
  const headers = (error as { headers?: Record<string, unknown> } | null)?.headers;
  const value = headers?.['retry-after'];
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Runs a Stripe API call, waiting out rate limiting: stripe-node retries a 429 only when Stripe
 * says `Stripe-Should-Retry: true`, and never reads `Retry-After`. On a 429 this waits what
 * `Retry-After` says (else a doubling delay, with jitter) and tries again, up to `attempts`.
 * Any other error is thrown at once (the SDK already retried 5xx and network errors).
 */
export async function withRateLimitBackoff<T>(call: () => Promise<T>, options: BackoffOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 30;
  const base = options.baseDelayMs ?? 1_000;
  const max = options.maxDelayMs ?? 60_000;
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (!isRateLimited(error) || attempt >= attempts) throw error;
      const told = retryAfterMs(error);
      const delay = Math.min(max, told ?? base * 2 ** Math.min(attempt - 1, 16) * (0.5 + Math.random() / 2));
      options.onBackoff?.(delay, attempt);
      await wait(delay);
    }
  }
}
