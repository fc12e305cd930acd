import { openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { testSigner } from '@billing/testing/job-signing';
import { testQueueConfig, uniqueQueueName, type QueueBackend } from '@billing/testing/test-queue';
import { event, invoiceObject, signatureHeader, stripeId, type StripeEvent } from '@billing/stripe-simulator/events';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
// Brings vitest's `inject(...)` typing (declared by the global setup) into this program.
import type {} from '@billing/testing/global-setup';
import type { Registry } from 'prom-client';
import { buildApp, type IngressDeps } from '../src/app';
import { WEBHOOK_PATH } from '../src/webhook-route';

export const SECRETS = ['whsec_test_current_0123456789', 'whsec_test_rotated_9876543210'] as const;

export interface TestIngress {
  app: FastifyInstance;
  config: QueueConfig;
  store: QueueStore;
  queue: EventQueue;
  registry: Registry;
  /** Posts `body` to the webhook route with these headers (content type JSON unless given). */
  post: (body: string, headers?: Record<string, string>) => Promise<LightMyRequestResponse>;
  /** Posts `body` signed with `secret` (the first one by default). */
  postSigned: (body: string, secret?: string) => Promise<LightMyRequestResponse>;
  /** Closes the app, removes the queue's jobs, closes the queue and the store (and drops the test database). */
  close: () => Promise<void>;
}

export interface TestIngressOptions {
  /** Where the queue lives: a backend (on Postgres, in a test database of its own), or a config (a private Redis, a proxy). */
  queue: QueueBackend | QueueConfig;
  /** @defaultValue 2000 */
  enqueueTimeoutMs?: number;
  limits?: IngressDeps['limits'];
  /** The thin route's secrets; without, no thin route. */
  thinSecrets?: readonly string[];
  /** Wraps the store the app gets (to observe or delay its writes). */
  wrapStore?: (store: QueueStore) => QueueStore;
}

/** The ingress built by `buildApp` on a queue of the caller's own, for `app.inject`. */
export async function startTestIngress(label: string, options: TestIngressOptions): Promise<TestIngress> {
  const enqueueTimeoutMs = options.enqueueTimeoutMs ?? 2_000;
  let database: TestDatabase | undefined;
  let config: QueueConfig;
  if (typeof options.queue === 'string') {
    if (options.queue === 'postgres') database = await createTestDatabase(label);
    config = await testQueueConfig(options.queue, database?.url ?? '');
  } else {
    config = options.queue;
  }
  const store = openQueueStore(config, { role: 'producer', timeoutMs: enqueueTimeoutMs });
  const queue = openEventQueue(store, uniqueQueueName(label));
  await queue.waitUntilReady();
  const registry = createRegistry('ingress-test');
  const logger = createLogger('ingress-test', 'silent');
  const app = await buildApp({
    store: options.wrapStore ? options.wrapStore(store) : store,
    queue,
    secrets: SECRETS,
    thinSecrets: options.thinSecrets,
    signer: testSigner,
    logger,
    registry,
    enqueueTimeoutMs,
    limits: options.limits,
  });
  const post = (body: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: WEBHOOK_PATH, payload: body, headers: { 'content-type': 'application/json', ...headers } });
  return {
    app,
    config,
    store,
    queue,
    registry,
    post,
    postSigned: (body, secret = SECRETS[0]) => post(body, { 'stripe-signature': signatureHeader(body, secret) }),
    close: async () => {
      await app.close();
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close().catch(() => {});
      await store.close().catch(() => {});
      await database?.drop();
    },
  };
}

/** A real-shaped `invoice.paid` event and its exact JSON body. */
export function invoiceEvent(id = stripeId('evt')): { event: StripeEvent; body: string } {
  const paid = event('invoice.paid', invoiceObject({ subscription: stripeId('sub'), customer: stripeId('cus') }), { id });
  return { event: paid, body: JSON.stringify(paid) };
}
