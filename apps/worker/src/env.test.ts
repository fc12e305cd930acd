import { describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from '@billing/runtime/env';
import { TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { checkWorkerEnv, loadWorkerEnv, workerEnvShape } from './env';

const base = { QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY };

describe('worker env: WORKER_FAILED_RETENTION_DAYS', () => {
  it.each([
    [undefined, 30],
    ['', 30],
    ['7', 7],
    ['1', 1],
  ])('%o → %i days', (value, days) => {
    expect(loadWorkerEnv({ ...base, WORKER_FAILED_RETENTION_DAYS: value }).WORKER_FAILED_RETENTION_DAYS).toBe(days);
  });

  it.each([
    ['0', 'WORKER_FAILED_RETENTION_DAYS must be at least 1 (got "0")'],
    ['-3', 'WORKER_FAILED_RETENTION_DAYS must be at least 1 (got "-3")'],
    ['2.5', 'WORKER_FAILED_RETENTION_DAYS is invalid: Invalid input: expected int, received number (got "2.5")'],
    ['thirty', 'WORKER_FAILED_RETENTION_DAYS must be a number (got "thirty")'],
    ['2592000000', 'WORKER_FAILED_RETENTION_DAYS must be at most 3650 (got "2592000000")'],
  ])('%s → one line naming it', (value, line) => {
    expect(() => loadEnv(workerEnvShape, { ...base, WORKER_FAILED_RETENTION_DAYS: value })).toThrow(new EnvError(line));
  });
});

describe('worker env: ACCESS_PAST_DUE_GRACE_DAYS', () => {
  it.each([
    [undefined, 7],
    ['0', 0],
    ['14', 14],
    ['0.5', 0.5],
  ])('%o → %d days', (value, days) => {
    expect(loadWorkerEnv({ ...base, ACCESS_PAST_DUE_GRACE_DAYS: value }).ACCESS_PAST_DUE_GRACE_DAYS).toBe(days);
  });

  it.each([
    ['-1', 'ACCESS_PAST_DUE_GRACE_DAYS must be at least 0 (got "-1")'],
    ['a week', 'ACCESS_PAST_DUE_GRACE_DAYS must be a number (got "a week")'],
    ['366', 'ACCESS_PAST_DUE_GRACE_DAYS must be at most 365 (got "366")'],
  ])('%s → one line naming it', (value, line) => {
    expect(() => loadEnv(workerEnvShape, { ...base, ACCESS_PAST_DUE_GRACE_DAYS: value })).toThrow(new EnvError(line));
  });
});

describe('worker env: thin events', () => {
  it('stops with one line naming STRIPE_SECRET_KEY when STRIPE_THIN_WEBHOOK_SECRET is set without it', () => {
    expect(() => loadEnv(workerEnvShape, { ...base, STRIPE_THIN_WEBHOOK_SECRET: 'whsec_thin' }, checkWorkerEnv)).toThrow(
      new EnvError('STRIPE_SECRET_KEY is required when STRIPE_THIN_WEBHOOK_SECRET is set (thin events are fetched from the Stripe API)'),
    );
  });

  it('starts with both, or with neither', () => {
    const both = loadEnv(
      workerEnvShape,
      { ...base, STRIPE_THIN_WEBHOOK_SECRET: 'whsec_thin', STRIPE_SECRET_KEY: 'sk_test_abc' },
      checkWorkerEnv,
    );
    expect(both.STRIPE_SECRET_KEY).toBe('sk_test_abc');
    expect(loadEnv(workerEnvShape, base, checkWorkerEnv).STRIPE_THIN_WEBHOOK_SECRET).toBeUndefined();
  });
});

describe('worker env: RECONCILE_INTERVAL, RECONCILE_REPAIR', () => {
  it.each([
    [undefined, 86_400_000],
    ['0', 0],
    ['6h', 21_600_000],
    ['30m', 1_800_000],
  ])('RECONCILE_INTERVAL %o → %d ms', (value, ms) => {
    expect(loadWorkerEnv({ ...base, RECONCILE_INTERVAL: value }).RECONCILE_INTERVAL).toBe(ms);
  });

  it.each(['daily', '30s', '1.5h'])('RECONCILE_INTERVAL %j → one line naming it', (value) => {
    expect(() => loadEnv(workerEnvShape, { ...base, RECONCILE_INTERVAL: value })).toThrow(
      new EnvError(`RECONCILE_INTERVAL must be a duration of at least a minute (30m, 6h, 1d) or 0 (never) (got "${value}")`),
    );
  });

  it('RECONCILE_REPAIR is false unless true', () => {
    expect(loadWorkerEnv(base).RECONCILE_REPAIR).toBe(false);
    expect(loadWorkerEnv({ ...base, RECONCILE_REPAIR: 'true' }).RECONCILE_REPAIR).toBe(true);
    expect(() => loadEnv(workerEnvShape, { ...base, RECONCILE_REPAIR: 'yes' })).toThrow(
      new EnvError('RECONCILE_REPAIR must be one of true, false (got "yes")'),
    );
  });
});

describe('worker env: notifications', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

  it('defaults: no URL (nothing sent), 50 per second, 30 days of outbox retention', () => {
    const env = loadWorkerEnv(base);
    expect([env.NOTIFY_URL, env.NOTIFY_SECRET, env.NOTIFY_MAX_PER_SECOND, env.OUTBOX_RETENTION_DAYS]).toEqual([
      undefined,
      undefined,
      50,
      30,
    ]);
  });

  it('a URL with its secret, a rate and a retention', () => {
    const env = loadWorkerEnv({
      ...base,
      NOTIFY_URL: 'https://app.example.com/billing/notifications',
      NOTIFY_SECRET: secret,
      NOTIFY_MAX_PER_SECOND: '5',
      OUTBOX_RETENTION_DAYS: '90',
    });
    expect([env.NOTIFY_URL, env.NOTIFY_SECRET, env.NOTIFY_MAX_PER_SECOND, env.OUTBOX_RETENTION_DAYS]).toEqual([
      'https://app.example.com/billing/notifications',
      secret,
      5,
      90,
    ]);
  });

  it.each([
    [{ NOTIFY_URL: 'https://app.example.com/hook' }, 'NOTIFY_SECRET is required when NOTIFY_URL is set'],
    [
      { NOTIFY_URL: 'ftp://app.example.com/hook', NOTIFY_SECRET: secret },
      'NOTIFY_URL must be an http(s) URL (got "ftp://app.example.com/hook")',
    ],
    [{ NOTIFY_URL: 'app.example.com', NOTIFY_SECRET: secret }, 'NOTIFY_URL must be an http(s) URL (got "app.example.com")'],
    [{ NOTIFY_URL: 'http://h/', NOTIFY_SECRET: 'not-a-secret' }, 'NOTIFY_SECRET must be a Standard Webhooks secret (whsec_ then base64)'],
    [{ NOTIFY_MAX_PER_SECOND: '0' }, 'NOTIFY_MAX_PER_SECOND must be at least 1 (got "0")'],
    [{ NOTIFY_MAX_PER_SECOND: 'lots' }, 'NOTIFY_MAX_PER_SECOND must be a number (got "lots")'],
    [{ OUTBOX_RETENTION_DAYS: '0' }, 'OUTBOX_RETENTION_DAYS must be at least 1 (got "0")'],
  ])('%o → one line naming it', (vars, line) => {
    expect(() => loadEnv(workerEnvShape, { ...base, ...vars }, checkWorkerEnv)).toThrow(new EnvError(line));
  });
});
