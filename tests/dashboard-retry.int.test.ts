// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { buildDashboard } from '@billing/dashboard/app';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import { enqueueEvent, openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { startApp, type AppProcess } from '@billing/testing/processes';
import { billingMetadata, checkoutSessionObject, event, stripeId } from '@billing/stripe-simulator/events';
import { UnrecoverableError } from 'bullmq';
import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { signedJob } from '@billing/testing/job-signing';

// The operator's path end to end: a job failed for good during an outage, is retried from the
// dashboard's API, and the real worker process then applies it to Postgres.
const AUTH = { authorization: `Basic ${Buffer.from('admin:retry-test-password').toString('base64')}` };
/** The retry as the board's own page sends it: from its origin, no body. */
const RETRY_HEADERS = {
  ...AUTH,
  host: 'localhost:3001',
  origin: 'http://localhost:3001',
  'sec-fetch-site': 'same-origin',
  'sec-fetch-mode': 'cors',
};

describeEachBackend('retrying a failed job from the dashboard, applied by the real worker', (backend) => {
  let t: TestDatabase;
  let config: QueueConfig;
  let store: QueueStore;
  let queue: EventQueue;
  let board: FastifyInstance;
  let worker: AppProcess | undefined;
  const queueName = uniqueQueueName('dashboard-retry');

  beforeAll(async () => {
    t = await createTestDatabase('dashboard_retry');
    config = await testQueueConfig(backend, t.url);
    store = openQueueStore(config, { role: 'producer' });
    queue = openEventQueue(store, queueName);
    board = await buildDashboard({ queues: [queue], user: 'admin', password: 'retry-test-password' });
  });
  afterAll(async () => {
    await worker?.stop();
    await board?.close();
    await queue?.obliterate({ force: true }).catch(() => {});
    await queue?.close();
    await store?.close();
    await t?.drop();
  });

  it('moves the job back to waiting; the worker then applies it and records it in the ledger', async () => {
    const [user] = await t.db.insert(users).values({ email: 'retry@example.com' }).returning();
    const subscriptionId = stripeId('sub');
    const checkout = event(
      'checkout.session.completed',
      checkoutSessionObject({
        subscription: subscriptionId,
        customer: stripeId('cus'),
        customerEmail: 'retry@example.com',
        metadata: billingMetadata({ userId: user!.id, planSlug: 'pro', period: 'yearly' }),
      }),
    );
    await enqueueEvent(store, queue, signedJob(checkout));

    // 1. The outage: the job fails for good (simulated by a worker that gives up at once).
    const outageStore = openQueueStore(config, { role: 'consumer' });
    const outage = outageStore.worker(
      queueName,
      async () => {
        throw new UnrecoverableError('connect ECONNREFUSED 127.0.0.1:5432 (simulated outage)');
      },
      {},
    );
    try {
      await expect.poll(() => queue.getJobState(checkout.id), { timeout: 15_000 }).toBe('failed');
    } finally {
      await outage.close();
      await outageStore.close();
    }

    // 2. The operator retries it from the dashboard.
    const retry = await board.inject({ method: 'PUT', url: `/api/queues/${queueName}/${checkout.id}/retry`, headers: RETRY_HEADERS });
    expect(retry.statusCode, retry.body).toBeLessThan(300);
    expect(await queue.getJobState(checkout.id)).toBe('waiting');

    // 3. The real worker applies it.
    worker = await startApp(
      'worker',
      { DATABASE_URL: t.url, ...queueEnvOf(config), QUEUE_NAME: queueName, WORKER_METRICS_PORT: '0' },
      /"msg":"worker ready"/,
    );
    await expect.poll(() => queue.getJobState(checkout.id), { timeout: 20_000 }).toBe('completed');
    const [ledger] = await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, checkout.id));
    expect(ledger?.outcome).toBe('applied');
    const [subscription] = await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, subscriptionId));
    expect(subscription).toMatchObject({ userId: user!.id, status: 'active', planSlug: 'pro', period: 'yearly' });
  });
});
