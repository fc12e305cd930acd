import { afterAll, beforeAll, expect, it } from 'vitest';
import { applyEvents, defaultBillingConfig } from '@billing/billing';
import { users } from '@billing/db/schema';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { event, lifecycle, subscriptionObject } from '@billing/stripe-simulator/events';
import { createWorkerMetrics } from './metrics';
import { startOutboxRetention } from './outbox-retention';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('outbox_retention');
});
afterAll(async () => {
  await t?.drop();
});

const DAY_MS = 86_400_000;
const logger = createLogger('retention-test', 'silent');

it('deletes rows past the retention that were delivered (or, without NOTIFY_URL, any), keeps the rest; sequences go on', async () => {
  const [user] = await t.db.insert(users).values({ email: 'old@example.com' }).returning();
  const events = lifecycle({ email: 'old@example.com', userId: user!.id, subscriptionId: 'sub_old', customerId: 'cus_old' }).slice(0, 4);
  await applyEvents(t.connection(), events, defaultBillingConfig);
  const ids = (await t.sql<{ id: string }[]>`select id from billing_outbox where subject = 'sub_old' order by sequence`).map((r) => r.id);
  expect(ids.length).toBeGreaterThanOrEqual(3);
  const [oldDelivered, oldUndelivered, ...recent] = ids;
  await t.sql`update billing_outbox set created_at = now() - interval '31 days' where id = any(${[oldDelivered!, oldUndelivered!]}::bigint[])`;
  await t.sql`update billing_outbox set delivered_at = now() - interval '30 days' where id = ${oldDelivered!}`;

  const metrics = createWorkerMetrics(createRegistry('retention-test'));
  const run = (notifying: boolean) =>
    startOutboxRetention({
      connection: t.connection(),
      retentionMs: 30 * DAY_MS,
      notifying,
      intervalMs: 0,
      logger,
      metrics,
    });
  const left = async () =>
    (await t.sql<{ id: string }[]>`select id from billing_outbox where subject = 'sub_old' order by sequence`).map((r) => r.id);

  // With NOTIFY_URL: the delivered one goes; the undelivered one stays for its retry.
  expect(await run(true).runOnce()).toBe(1);
  expect(await left()).toEqual([oldUndelivered, ...recent]);
  // Without: nothing will send it, so it expires too; the recent rows stay.
  expect(await run(false).runOnce()).toBe(1);
  expect(await left()).toEqual(recent);

  // The subject's sequence goes on from its last, not from what rows are left.
  const [last] = await t.sql<{ sequence: number }[]>`select max(sequence)::int as sequence from billing_outbox where subject = 'sub_old'`;
  const canceled = event('customer.subscription.deleted', subscriptionObject({ id: 'sub_old', customer: 'cus_old', status: 'canceled' }), {
    created: events.at(-1)!.created + 10,
  });
  await applyEvents(t.connection(), [canceled], defaultBillingConfig);
  const [next] = await t.sql<
    { sequence: number }[]
  >`select min(sequence)::int as sequence from billing_outbox where subject = 'sub_old' and stripe_event_ids @> ${[canceled.id]}`;
  expect(next?.sequence).toBe(last!.sequence + 1);
});
