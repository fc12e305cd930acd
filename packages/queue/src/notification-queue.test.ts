import { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_NOTIFICATION_RETRY,
  NOTIFICATION_BACKOFF,
  notificationJobId,
  notificationJobOptions,
  notificationQueueName,
  notificationRetryDelay,
  notificationRetrySpanMs,
} from './notification-queue';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

describe('the notifications retry schedule', () => {
  it('first retry within a minute, then doubling, capped at 6 h', () => {
    const delays = Array.from({ length: DEFAULT_NOTIFICATION_RETRY.attempts - 1 }, (_, i) => notificationRetryDelay(i + 1));
    expect(delays[0]).toBe(30_000);
    expect(delays.slice(0, 10)).toEqual([30, 60, 120, 240, 480, 960, 1920, 3840, 7680, 15360].map((s) => s * 1000));
    expect(delays.slice(10)).toEqual(Array.from({ length: 11 }, () => 6 * HOUR));
    expect(Math.max(...delays)).toBe(6 * HOUR);
  });

  it('spans at least 3 days: 74 h 31 min 30 s over 22 attempts', () => {
    const span = notificationRetrySpanMs();
    expect(span).toBeGreaterThanOrEqual(3 * 24 * HOUR);
    expect(span).toBe(74 * HOUR + 31 * MINUTE + 30_000);
    // One attempt fewer would fall short of 3 days.
    expect(notificationRetrySpanMs({ ...DEFAULT_NOTIFICATION_RETRY, attempts: 21 })).toBeLessThan(3 * 24 * HOUR);
  });

  it('job options: the schedule’s attempts under the custom backoff; failed jobs kept', () => {
    expect(notificationJobOptions()).toMatchObject({
      attempts: 22,
      backoff: { type: NOTIFICATION_BACKOFF, delay: 30_000 },
      removeOnFail: false,
    });
  });
});

describe('notification job ids', () => {
  it('outbox-<id>: passes BullMQ’s job-id rules (no bare integer, no colon)', () => {
    expect(notificationJobId(42)).toBe('outbox-42');
    // BullMQ's own check, run on every add (a protected method of Job).
    const check = (Job.prototype as unknown as { validateOptions: (json: unknown) => void }).validateOptions;
    const validate = (jobId: string) => check.call({ opts: { jobId }, data: {}, name: 'x' }, {});
    expect(() => validate('42')).toThrow(/Custom Id cannot be integers/);
    expect(() => validate(notificationJobId(42))).not.toThrow();
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %s', (id) => {
    expect(() => notificationJobId(id)).toThrow(TypeError);
  });

  it('the queue is <QUEUE_NAME>-notifications', () => {
    expect(notificationQueueName('stripe-events')).toBe('stripe-events-notifications');
  });
});
