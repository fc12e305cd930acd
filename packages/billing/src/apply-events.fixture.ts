import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { subscriptions, subscriptionTransitions, users, webhookEvents } from '@billing/db/schema';
import type { Sql } from '@billing/db/client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import type { StripeEvent } from '@billing/stripe-simulator/events';
import { applyEvent, type ApplyOptions } from './apply-events';
import { defaultBillingConfig } from './config';

export const T0 = 1_790_000_000;
export const END = T0 + 30 * 86_400;

/**
 * A database of its own for a test file of applyEvent, emptied before each test, and the
 * helpers its tests read rows with. Call once at the top of the file.
 */
export function useApplyFixture(name: string) {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(name);
  });
  afterAll(async () => {
    await t?.drop();
  });
  beforeEach(async () => {
    await t.sql`truncate users, subscriptions, webhook_events, subscription_transitions, erased_customers, billing_outbox, billing_outbox_subjects, billing_access, customer_entitlements restart identity cascade`;
  });

  // applyEvent takes a client of one connection used by one call at a time: a few, handed out in turn.
  const idle: Sql[] = [];
  const apply = async (e: StripeEvent, options?: ApplyOptions) => {
    const connection = idle.pop() ?? t.connection();
    try {
      return await applyEvent(connection, e, defaultBillingConfig, options);
    } finally {
      idle.push(connection);
    }
  };
  return {
    database: () => t,
    apply,
    addUser: async (email: string, stripeCustomerId: string | null = null) =>
      (await t.db.insert(users).values({ email, stripeCustomerId }).returning())[0]!,
    subscriptionRow: async (id: string) => (await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, id)))[0],
    userRow: async (id: number) => (await t.db.select().from(users).where(eq(users.id, id)))[0]!,
    ledger: async () => t.db.select().from(webhookEvents).orderBy(asc(webhookEvents.id)),
    transitions: async (id: string) =>
      (
        await t.db
          .select()
          .from(subscriptionTransitions)
          .where(eq(subscriptionTransitions.stripeSubscriptionId, id))
          .orderBy(asc(subscriptionTransitions.id))
      ).map((r) => [r.fromStatus, r.toStatus]),
  };
}
