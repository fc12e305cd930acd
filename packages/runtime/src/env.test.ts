import { describe, expect, it } from 'vitest';
import { EnvError, envFields, loadEnv, z } from './env';

const shape = {
  STRIPE_WEBHOOK_SECRET: z.string().startsWith('whsec_', { message: 'must start with whsec_' }),
  REDIS_URL: envFields.REDIS_URL,
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
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', REDIS_URL: 'localhost:6379' }, 'REDIS_URL must be a URL starting with redis:// or rediss:// (got "localhost:6379")'],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', PORT: 'http' }, 'PORT must be a number (got "http")'],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', PORT: '70000' }, 'PORT must be at most 65535 (got "70000")'],
    [{ STRIPE_WEBHOOK_SECRET: 'whsec_x', QUEUE_NAME: 'a:b' }, 'QUEUE_NAME must be non-empty and contain no ":" (got "a:b")'],
  ])('%o → one line naming the variable', (source, line) => {
    expect(() => loadEnv(shape, source)).toThrow(EnvError);
    expect(() => loadEnv(shape, source)).toThrow(new EnvError(line));
  });

  it('never echoes a secret value back', () => {
    expect(() => loadEnv(shape, { STRIPE_WEBHOOK_SECRET: 'not-a-secret-format' })).toThrow(/^STRIPE_WEBHOOK_SECRET must start with whsec_$/);
  });
});
