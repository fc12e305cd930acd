import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { subscriptions, users, webhookEvents } from './schema';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('schema');
});
afterAll(async () => {
  await t?.drop();
});

const subscription = (stripeSubscriptionId: string, userId: number | null = null) => ({
  userId,
  stripeCustomerId: 'cus_1',
  stripeSubscriptionId,
  planSlug: 'pro',
  period: 'monthly',
  status: 'active',
});

/** postgres-js puts the Postgres error on `cause` when Drizzle wraps it. */
async function pgErrorCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    const e = error as { code?: string; cause?: { code?: string } };
    return e.cause?.code ?? e.code;
  }
}

describe('schema constraints', () => {
  it('rejects a duplicate stripe_event_id', async () => {
    const row = { stripeEventId: 'evt_dup1', eventType: 'invoice.paid', outcome: 'applied' as const };
    await t.db.insert(webhookEvents).values(row);
    expect(await pgErrorCode(t.db.insert(webhookEvents).values(row))).toBe('23505');
    const rows = await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, 'evt_dup1'));
    expect(rows).toHaveLength(1);
  });

  it('rejects a duplicate stripe_subscription_id', async () => {
    await t.db.insert(subscriptions).values(subscription('sub_dup1'));
    expect(await pgErrorCode(t.db.insert(subscriptions).values(subscription('sub_dup1')))).toBe('23505');
  });

  it('rejects an unknown ledger outcome and an upper-case email', async () => {
    expect(
      await pgErrorCode(t.db.execute(sql`insert into webhook_events (stripe_event_id, event_type, outcome) values ('evt_x', 't', 'done')`)),
    ).toBe('23514');
    expect(await pgErrorCode(t.db.insert(users).values({ email: 'Ada@Example.com' }))).toBe('23514');
  });

  it('keeps the subscription, unlinked, when its user is deleted (ON DELETE SET NULL)', async () => {
    const [user] = await t.db.insert(users).values({ email: 'erase-me@example.com' }).returning();
    await t.db.insert(subscriptions).values(subscription('sub_erase', user!.id));
    await t.db.delete(users).where(eq(users.id, user!.id));
    const [kept] = await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, 'sub_erase'));
    expect(kept).toMatchObject({ userId: null, status: 'active', planSlug: 'pro' });
  });
});
