import { loadEnv } from '@billing/runtime/env';
import { envErrorMessage } from '@billing/testing/env-error';
import { checkQueueEnv } from '@billing/queue';
import { describe, expect, it } from 'vitest';
import { ingressEnvShape } from './env';

const KEY = 'a-queue-signing-key-of-32-characters!';
const load = (source: Record<string, string>) => loadEnv(ingressEnvShape, { QUEUE_SIGNING_KEY: KEY, ...source }, checkQueueEnv);
const message = (source: Record<string, string>) => envErrorMessage(() => load(source));

describe('ingress env', () => {
  it('applies the documented defaults', () => {
    expect(load({ STRIPE_WEBHOOK_SECRET: 'whsec_abc' })).toEqual({
      STRIPE_WEBHOOK_SECRET: ['whsec_abc'],
      QUEUE_SIGNING_KEY: [KEY],
      PORT: 3000,
      HOST: '127.0.0.1',
      INGRESS_METRICS_PORT: 9465,
      INGRESS_METRICS_HOST: '127.0.0.1',
      INGRESS_MAX_CONNECTIONS: 1000,
      INGRESS_REQUEST_TIMEOUT_MS: 10_000,
      DATABASE_URL: 'postgres://postgres:postgres@127.0.0.1:5432/billing',
      QUEUE_SCHEMA: 'bullmq',
      REDIS_MIN_REPLICAS_ACK: 0,
      QUEUE_NAME: 'stripe-events',
      QUEUE_PREFIX: 'bull',
      LOG_LEVEL: 'info',
      THIN_WEBHOOK_PATH: '/stripe/thin-events',
    });
  });

  it('reads the thin events secrets (rotation too) and path', () => {
    const env = load({
      STRIPE_WEBHOOK_SECRET: 'whsec_a',
      STRIPE_THIN_WEBHOOK_SECRET: 'whsec_thin_new, whsec_thin_old',
      THIN_WEBHOOK_PATH: '/hooks/thin',
    });
    expect(env.STRIPE_THIN_WEBHOOK_SECRET).toEqual(['whsec_thin_new', 'whsec_thin_old']);
    expect(env.THIN_WEBHOOK_PATH).toBe('/hooks/thin');
  });

  it('splits comma-separated secrets for rotation, in order, trimming spaces', () => {
    expect(load({ STRIPE_WEBHOOK_SECRET: 'whsec_new, whsec_old' }).STRIPE_WEBHOOK_SECRET).toEqual(['whsec_new', 'whsec_old']);
  });

  it.each([
    ['a missing secret', {}, 'STRIPE_WEBHOOK_SECRET is required'],
    ['an empty secret', { STRIPE_WEBHOOK_SECRET: '  ' }, 'STRIPE_WEBHOOK_SECRET is required'],
    ['a secret without whsec_', { STRIPE_WEBHOOK_SECRET: 'sk_live_oops' }, 'STRIPE_WEBHOOK_SECRET must be'],
    ['one bad entry among several', { STRIPE_WEBHOOK_SECRET: 'whsec_a,,whsec_b' }, 'STRIPE_WEBHOOK_SECRET must be'],
    ['a malformed REDIS_URL', { STRIPE_WEBHOOK_SECRET: 'whsec_a', REDIS_URL: 'localhost:6379' }, 'REDIS_URL must be a URL'],
    ['a non-numeric PORT', { STRIPE_WEBHOOK_SECRET: 'whsec_a', PORT: 'eighty' }, 'PORT'],
    ['a queue name with ":"', { STRIPE_WEBHOOK_SECRET: 'whsec_a', QUEUE_NAME: 'a:b' }, 'QUEUE_NAME must be'],
    [
      'a negative replica count',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', REDIS_MIN_REPLICAS_ACK: '-1' },
      'REDIS_MIN_REPLICAS_ACK must be at least 0',
    ],
    [
      'a replica count that is not a number',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', REDIS_MIN_REPLICAS_ACK: 'one' },
      'REDIS_MIN_REPLICAS_ACK must be a number',
    ],
    [
      'a cluster with a prefix that has no hash tag',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', REDIS_CLUSTER_NODES: '127.0.0.1:7000' },
      'QUEUE_PREFIX must contain a {hash-tag}',
    ],
    [
      'a metrics port out of range',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', INGRESS_METRICS_PORT: '70000' },
      'INGRESS_METRICS_PORT must be at most 65535',
    ],
    ['zero connections', { STRIPE_WEBHOOK_SECRET: 'whsec_a', INGRESS_MAX_CONNECTIONS: '0' }, 'INGRESS_MAX_CONNECTIONS must be at least 1'],
    [
      'a thin secret without whsec_',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', STRIPE_THIN_WEBHOOK_SECRET: 'thin' },
      'STRIPE_THIN_WEBHOOK_SECRET must be',
    ],
    [
      'a thin path that is not a path',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', THIN_WEBHOOK_PATH: 'stripe/thin?x=1' },
      'THIN_WEBHOOK_PATH must be',
    ],
    [
      'a request timeout that is not a number',
      { STRIPE_WEBHOOK_SECRET: 'whsec_a', INGRESS_REQUEST_TIMEOUT_MS: '10s' },
      'INGRESS_REQUEST_TIMEOUT_MS must be a number',
    ],
  ])('rejects %s with one line naming the variable', (_name, source, expected) => {
    const text = message(source);
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toContain(expected);
  });

  it('never echoes a secret in the message', () => {
    expect(message({ STRIPE_WEBHOOK_SECRET: 'whsec_ok,sk_live_secret_value' })).not.toContain('sk_live_secret_value');
  });
});
