import { afterAll, beforeAll, expect, it } from 'vitest';
import type { QueueConfig } from '@billing/queue';
import { users } from '@billing/db/schema';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, dropQueue, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { freePort } from '@billing/testing/ports';
import { startApp, type AppProcess } from '@billing/testing/processes';
import { lifecycle, signatureHeader } from '@billing/stripe-simulator/events';
import { waitFor } from '@billing/testing/wait-for';

const SECRET = 'whsec_e2e_test_secret';

describeEachBackend('end to end: signed POST → ingress → queue → worker → Postgres', (backend) => {
  let t: TestDatabase;
  let ingress: AppProcess;
  let worker: AppProcess;
  let url: string;
  let config: QueueConfig;
  const queueName = uniqueQueueName('e2e');

  beforeAll(async () => {
    t = await createTestDatabase('e2e');
    config = await testQueueConfig(backend, t.url);
    const queue = { ...queueEnvOf(config), QUEUE_NAME: queueName };
    const port = await freePort();
    [ingress, worker] = await Promise.all([
      startApp(
        'ingress',
        { ...queue, STRIPE_WEBHOOK_SECRET: SECRET, PORT: String(port), INGRESS_METRICS_PORT: '0' },
        /"msg":"ingress listening"/,
      ),
      startApp('worker', { ...queue, DATABASE_URL: t.url, WORKER_METRICS_PORT: '0' }, /"msg":"worker ready"/),
    ]);
    url = `http://127.0.0.1:${port}/checkout/webhooks/stripe`;
  });
  afterAll(async () => {
    await Promise.all([ingress?.stop(), worker?.stop()]);
    await dropQueue(config, queueName);
    await t?.drop();
  });

  const post = (payload: string) =>
    fetch(url, {
      method: 'POST',
      body: payload,
      headers: { 'content-type': 'application/json', 'stripe-signature': signatureHeader(payload, SECRET) },
    });

  it.each(['legacy', 'basil'] as const)('a %s lifecycle ends in the rows docs/design.md describes', async (shape) => {
    const [user] = await t.db
      .insert(users)
      .values({ email: `e2e-${shape}@example.com` })
      .returning();
    const events = lifecycle({
      email: `E2E-${shape}@example.com `,
      shape,
      subscriptionId: `sub_e2e${shape}`,
      customerId: `cus_e2e${shape}`,
    });
    for (const e of events) {
      const response = await post(JSON.stringify(e));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ received: true });
    }
    const replay = await post(JSON.stringify(events[0]));
    expect(await replay.json()).toEqual({ received: true, duplicate: true });

    await waitFor(async () => {
      const [row] = await t.sql<
        { n: number }[]
      >`select count(*)::int as n from webhook_events where stripe_subscription_id = ${`sub_e2e${shape}`}`;
      return row?.n === events.length;
    }, 'all events in the ledger');
    const [sub] = await t.sql`select * from subscriptions where stripe_subscription_id = ${`sub_e2e${shape}`}`;
    expect(sub).toMatchObject({
      user_id: user!.id,
      status: 'canceled',
      plan_slug: 'pro',
      period: 'monthly',
      stripe_customer_id: `cus_e2e${shape}`,
    });
    expect(new Date(sub!.current_period_end).getTime()).toBeGreaterThan(Date.now());
    const [u] = await t.sql`select * from users where id = ${user!.id}`;
    expect(u).toMatchObject({ stripe_customer_id: `cus_e2e${shape}`, subscription_status: 'canceled' });
    const outcomes = await t.sql`select outcome from webhook_events where stripe_subscription_id = ${`sub_e2e${shape}`}`;
    expect(outcomes.every((r) => r.outcome !== 'unresolved')).toBe(true);
  });
});
