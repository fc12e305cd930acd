import { describe, expect, it } from 'vitest';
import { EnvError, envFields, loadEnv, maskCredentials, z } from './env';

/** A URL field as the apps define them (the queue's lives in @billing/queue's queue-env.ts). */
const REDIS_URL = z
  .string()
  .default('redis://127.0.0.1:6379')
  .refine((v) => /^rediss?:\/\//.test(v), { message: 'must be a URL starting with redis:// or rediss://' });

const shape = {
  STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_', { message: 'must start with whsec_' }),
  REDIS_URL,
  PORT: envFields.port(3000),
  QUEUE_NAME: envFields.QUEUE_NAME,
};

describe('loadEnv', () => {
  it('applies defaults and treats empty strings as unset', () => {
    expect(loadEnv(shape, { STRIPE_WEBHOOK_SECRET: 'whsec_x', PORT: '' })).toEqual({
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 3000,
      QUEUE_NAME: 'stripe-events',
    });
  });

  it.each([
    [{}, 'STRIPE_WEBHOOK_SECRET is required'],
    [{ STRIPE_WEBHOOK_SECRET: 'sk_live_oops' }, 'STRIPE_WEBHOOK_SECRET must start with whsec_'],
    [
      { STRIPE_WEBHOOK_SECRET: 'whsec_x', REDIS_URL: 'localhost:6379' },
      'REDIS_URL must be a URL starting with redis:// or rediss:// (got "localhost:6379")',
    ],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', PORT: 'http' }, 'PORT must be a number (got "http")'],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', PORT: '70000' }, 'PORT must be at most 65535 (got "70000")'],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', QUEUE_NAME: 'a:b' }, 'QUEUE_NAME must be non-empty and contain no ":" (got "a:b")'],
  ])('%o → one line naming the variable', (source, line) => {
    expect(() => loadEnv(shape, source)).toThrow(EnvError);
    expect(() => loadEnv(shape, source)).toThrow(new EnvError(line));
  });

  it('never echoes a secret value back', () => {
    expect(() => loadEnv(shape, { STRIPE_WEBHOOK_SECRET: 'not-a-secret-format' })).toThrow(
      /^STRIPE_WEBHOOK_SECRET must start with whsec_$/,
    );
  });

  it.each([
    [
      'REDIS_URL',
      'http://user:hunter2@redis.internal:6379',
      'REDIS_URL must be a URL starting with redis:// or rediss:// (got "http://***@redis.internal:6379")',
    ],
    [
      'REDIS_URL',
      'redis//:hunter2@redis.internal:6379',
      'REDIS_URL must be a URL starting with redis:// or rediss:// (got "redis//***@redis.internal:6379")',
    ],
    [
      'DATABASE_URL',
      'mysql://app:hunter2@db/billing',
      'DATABASE_URL must be a URL starting with postgres:// or postgresql:// (got "mysql://***@db/billing")',
    ],
    [
      'DATABASE_URL',
      'app:hunter2@db:5432/billing',
      'DATABASE_URL must be a URL starting with postgres:// or postgresql:// (got "app:***@db:5432/billing")',
    ],
  ])('masks the credentials of a rejected %s (%s)', (name, value, line) => {
    const urls = { REDIS_URL, DATABASE_URL: envFields.DATABASE_URL };
    expect(() => loadEnv(urls, { [name]: value })).toThrow(new EnvError(line));
  });

  it('runs the cross-variable check after the fields, one line per problem, values masked', () => {
    const urls = { REDIS_URL, QUEUE_NAME: envFields.QUEUE_NAME };
    const check = (env: { REDIS_URL: string }) =>
      env.REDIS_URL.includes('@')
        ? [
            { name: 'REDIS_URL', problem: 'must not be used with that' },
            { name: 'QUEUE_NAME', problem: 'is odd' },
          ]
        : [];
    expect(loadEnv(urls, {}, check)).toEqual({ REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_NAME: 'stripe-events' });
    expect(() => loadEnv(urls, { REDIS_URL: 'redis://:pw@h:1' }, check)).toThrow(
      new EnvError('REDIS_URL must not be used with that (got "redis://***@h:1")\nQUEUE_NAME is odd'),
    );
  });
});

describe('maskCredentials', () => {
  it.each([
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['rediss://default:p%40ss@host:6380/1', 'rediss://***@host:6380/1'],
    ['redis://:pa@ss@host', 'redis://***@host'],
    ['postgres://u:pw/with/slash@host/db', 'postgres://***@host/db'],
    ['localhost:6379', 'localhost:6379'],
  ])('%s → %s', (value, masked) => {
    expect(maskCredentials(value)).toBe(masked);
  });
});
