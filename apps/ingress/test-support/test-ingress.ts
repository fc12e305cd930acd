import { createEventQueue, producerConnection, type EventQueue } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { uniqueQueueName } from '@billing/testing/test-queue';
import { testSigner } from '@billing/testing/job-signing';
import { event, invoiceObject, signatureHeader, stripeId, type StripeEvent } from '@billing/stripe-simulator/events';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Redis } from 'ioredis';
// Brings vitest's `inject('redisUrl')` typing (declared by the global setup) into this program.
import type {} from '@billing/testing/global-setup';
import type { Registry } from 'prom-client';
import { buildApp, type IngressDeps } from '../src/app';
import { WEBHOOK_PATH } from '../src/webhook-route';

export const SECRETS = ['whsec_test_current_0123456789', 'whsec_test_rotated_9876543210'] as const;

export interface TestIngress {
  app: FastifyInstance;
  queue: EventQueue;
  redis: Redis;
  registry: Registry;
  /** Posts `body` to the webhook route with these headers (content type JSON unless given). */
  post: (body: string, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;
  /** Posts `body` signed with `secret` (the first one by default). */
  postSigned: (body: string, secret?: string) => Promise<LightMyRequestResponse>;
  /** Closes the app, removes the queue's keys, closes the queue and the connection. */
  close: () => Promise<void>;
}

/** The ingress built by `buildApp` on a queue of the caller's own, for `app.inject`. */
export async function startTestIngress(
  label: string,
  redisUrl: string,
  enqueueTimeoutMs = 2_000,
  deps: Pick<IngressDeps, 'afterBatchWrite' | 'limits'> = {},
): Promise<TestIngress> {
  const redis = producerConnection(redisUrl, { timeoutMs: enqueueTimeoutMs });
  const queue = createEventQueue(redis, { name: uniqueQueueName(label) });
  await queue.waitUntilReady();
  const registry = createRegistry('ingress-test');
  const logger = createLogger('ingress-test', 'silent');
  const app = await buildApp({ queue, redis, secrets: SECRETS, signer: testSigner, logger, registry, enqueueTimeoutMs, ...deps });
  const post = (body: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: WEBHOOK_PATH, payload: body, headers: { 'content-type': 'application/json', ...headers } });
  return {
    app,
    queue,
    redis,
    registry,
    post,
    postSigned: (body, secret = SECRETS[0]) => post(body, { 'stripe-signature': signatureHeader(body, secret) }),
    close: async () => {
      await app.close();
      if (redis.status === 'ready') await queue.obliterate({ force: true });
      await queue.close();
      if (redis.status === 'ready') await redis.quit();
      else redis.disconnect();
    },
  };
}

/** A real-shaped `invoice.paid` event and its exact JSON body. */
export function invoiceEvent(id = stripeId('evt')): { event: StripeEvent; body: string } {
  const paid = event('invoice.paid', invoiceObject({ subscription: stripeId('sub'), customer: stripeId('cus') }), { id });
  return { event: paid, body: JSON.stringify(paid) };
}
