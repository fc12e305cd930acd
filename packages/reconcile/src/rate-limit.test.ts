import { describe, expect, it } from 'vitest';
import { retryAfterMs, withRateLimitBackoff } from './rate-limit';

const limited = (retryAfter?: string) =>
  Object.assign(new Error('Request rate limit exceeded'), {
    type: 'StripeRateLimitError',
    statusCode: 429,
    headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
  });

describe('withRateLimitBackoff', () => {
  it('waits what Retry-After says, then succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRateLimitBackoff(
      async () => {
        calls += 1;
        if (calls < 4) throw limited('2');
        return 'page';
      },
      { sleep: async (ms) => void waits.push(ms) },
    );
    expect(result).toBe('page');
    expect(waits).toEqual([2000, 2000, 2000]);
  });

  it('doubles its own delay without Retry-After, capped', async () => {
    const waits: number[] = [];
    let calls = 0;
    await withRateLimitBackoff(
      async () => {
        calls += 1;
        if (calls < 6) throw limited();
        return 1;
      },
      { baseDelayMs: 100, maxDelayMs: 500, sleep: async (ms) => void waits.push(ms) },
    );
    expect(waits).toHaveLength(5);
    for (const [i, w] of waits.entries()) expect(w).toBeLessThanOrEqual(Math.min(500, 100 * 2 ** i));
    expect(waits.at(-1)).toBe(500);
  });

  it('throws other errors at once, and a 429 after the last attempt', async () => {
    let calls = 0;
    await expect(
      withRateLimitBackoff(async () => {
        calls += 1;
        throw Object.assign(new Error('Invalid API Key'), { type: 'StripeAuthenticationError', statusCode: 401 });
      }),
    ).rejects.toThrow('Invalid API Key');
    expect(calls).toBe(1);
    await expect(withRateLimitBackoff(async () => Promise.reject(limited('0')), { attempts: 3, sleep: async () => {} })).rejects.toThrow(
      'rate limit',
    );
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(retryAfterMs(limited('1.5'))).toBe(1500);
    expect(retryAfterMs(limited(new Date(10_000).toUTCString()), 4_000)).toBe(6_000);
    expect(retryAfterMs(limited())).toBeUndefined();
  });
});
