import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { applyEvents, defaultBillingConfig, sweepUnresolved } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import {
  billingMetadata,
  checkoutSessionObject,
  event,
  stripeId,
  subscriptionObject,
  type StripeEvent,
} from '@billing/stripe-simulator/events';
import { eraseDatabase, findPerson } from '../scripts/lib/erase-database';

/**
 * `npm run erase` against the worker, on real Postgres (issue 19, item 6): erase serialises with
 * the worker's transactions on the same advisory locks, so a worker transaction that read the
 * person's rows before erase committed cannot write them back after it; and an erased person's
 * customer id is not bound again by a later event's metadata or email — only the host
 * application binding `users.stripe_customer_id` again links it.
 */

let t: TestDatabase;
let worker: Sql;
beforeAll(async () => {
  t = await createTestDatabase('erase_worker');
  worker = t.connection();
});
afterAll(async () => {
  await t?.drop();
});
beforeEach(async () => {
  await t.sql`truncate users, subscriptions, webhook_events, subscription_transitions, erased_customers, billing_outbox, billing_outbox_subjects, billing_access, customer_entitlements restart identity cascade`;
});

const T0 = 1_790_000_000;
const apply = async (...events: StripeEvent[]) => (await applyEvents(worker, events, defaultBillingConfig)).results;

/** A person as the worker left them: a user bound to a customer, an active subscription linked to them. */
async function seedPerson(name: string) {
  const email = `${name}@example.com`;
  const customer = stripeId('cus');
  const subscription = stripeId('sub');
  const [user] = await t.db.insert(users).values({ email, stripeCustomerId: customer }).returning();
  const created = event('customer.subscription.created', subscriptionObject({ id: subscription, customer, status: 'active' }), {
    created: T0,
  });
  expect((await apply(created))[0]).toMatchObject({ outcome: 'applied' });
  return { email, customer, subscription, userId: user!.id };
}

const userRow = async (id: number) => (await t.db.select().from(users).where(eq(users.id, id)))[0]!;
const subscriptionRow = async (id: string) =>
  (await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, id)))[0]!;
/** What the host contract holds of the person: outbox rows of their user or subscription, their access decision. */
const hostRows = async (person: { userId: number; subscription: string }) => ({
  outbox: await t.sql`select subject, sequence, type from billing_outbox
    where user_id = ${person.userId} or subject = ${`user:${person.userId}`} or subject = ${person.subscription} order by id`,
  access: await t.sql`select user_id from billing_access where user_id = ${person.userId}`,
});
const ledgerOutcome = async (id: string) =>
  (await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, id)))[0]?.outcome;

/** Transactions of this database waiting for a lock (advisory, row or transaction). */
const waiting = async () =>
  (
    await t.sql<Array<{ n: number }>>`
      select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where not l.granted and a.datname = current_database()`
  )[0]!.n;

describe('erase and the worker', () => {
  it('a worker transaction that loaded the rows while erase ran does not write the person back after erase commits', async () => {
    const person = await seedPerson('race');
    const erasing = await findPerson(t.db, { email: person.email });

    // Hold erase inside its transaction: a lock on one of the person's ledger rows, which erase clears last.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const holder = t.sql.begin(async (tx) => {
      await tx`select 1 from webhook_events where stripe_customer_id = ${person.customer} for update`;
      locked();
      await released;
    });
    await lockHeld;
    const erase = eraseDatabase(t.db, erasing, false);
    await vi.waitFor(async () => expect(await waiting()).toBeGreaterThanOrEqual(1), { timeout: 10_000 });

    // The worker's transaction for a newer event of the person's subscription starts while erase holds its writes.
    const updated = event(
      'customer.subscription.updated',
      subscriptionObject({ id: person.subscription, customer: person.customer, status: 'past_due' }),
      { created: T0 + 60 },
    );
    const applying = apply(updated);
    await vi.waitFor(async () => expect(await waiting()).toBeGreaterThanOrEqual(2), { timeout: 10_000 });

    release();
    await holder;
    expect(await erase).toMatchObject({ users: 1, subscriptions: [person.subscription] });
    const [result] = await applying;
    expect(result).toMatchObject({ outcome: 'unresolved' });

    expect(await subscriptionRow(person.subscription)).toMatchObject({ userId: null, stripeCustomerId: null });
    expect(await userRow(person.userId)).toMatchObject({ stripeCustomerId: null, subscriptionStatus: null });
    expect(await hostRows(person)).toEqual({ outbox: [], access: [] });
  });

  it('erase waits for a worker transaction that holds the person’s locks, then erases what it wrote', async () => {
    const person = await seedPerson('wait');
    // The worker's transaction: locks and loads, then its writes are held back until released.
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let messages = 0;
    const held = Object.assign(((strings: TemplateStringsArray, ...values: never[]) => worker(strings, ...values)) as unknown as Sql, {
      options: worker.options,
      unsafe: async (text: string) => {
        messages += 1;
        if (messages === 2) await released;
        return worker.unsafe(text);
      },
    });
    const updated = event(
      'customer.subscription.updated',
      subscriptionObject({ id: person.subscription, customer: person.customer, status: 'past_due' }),
      { created: T0 + 60 },
    );
    const applying = applyEvents(held, [updated], defaultBillingConfig);
    await vi.waitFor(() => expect(messages).toBe(2));

    const erase = eraseDatabase(t.db, await findPerson(t.db, { email: person.email }), false);
    await vi.waitFor(async () => expect(await waiting()).toBeGreaterThanOrEqual(1), { timeout: 10_000 });
    let erased = false;
    void erase.then(() => (erased = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(erased).toBe(false);

    release();
    expect((await applying).results[0]).toMatchObject({ outcome: 'applied' });
    await erase;
    expect(await subscriptionRow(person.subscription)).toMatchObject({ userId: null, stripeCustomerId: null, status: 'past_due' });
    expect(await userRow(person.userId)).toMatchObject({ stripeCustomerId: null, subscriptionStatus: null });
    // What the worker's transaction told the host of the person (its past_due row) is erased with the rest.
    expect(await hostRows(person)).toEqual({ outbox: [], access: [] });
  });
});

describe('an erased customer', () => {
  it('is not bound again by a later event’s metadata or email; the host binding it again applies what waited', async () => {
    const person = await seedPerson('later');
    await eraseDatabase(t.db, await findPerson(t.db, { email: person.email }), false);

    // A later checkout of the erased customer names the person by email and by metadata.
    const checkout = event(
      'checkout.session.completed',
      checkoutSessionObject({
        subscription: person.subscription,
        customer: person.customer,
        customerEmail: person.email,
        metadata: billingMetadata({ userId: person.userId, planSlug: 'pro' }),
      }),
      { created: T0 + 120 },
    );
    expect((await apply(checkout))[0]).toMatchObject({ outcome: 'unresolved' });
    const updated = event(
      'customer.subscription.updated',
      subscriptionObject({
        id: person.subscription,
        customer: person.customer,
        status: 'past_due',
        metadata: billingMetadata({ userId: person.userId }),
      }),
      { created: T0 + 180 },
    );
    expect((await apply(updated))[0]).toMatchObject({ outcome: 'unresolved' });
    expect(await userRow(person.userId)).toMatchObject({ stripeCustomerId: null, subscriptionStatus: null });
    expect(await subscriptionRow(person.subscription)).toMatchObject({ userId: null, stripeCustomerId: null, status: 'active' });
    // Nor does the sweep take the subscription-link route for it.
    await t.sql`update subscriptions set user_id = ${person.userId} where stripe_subscription_id = ${person.subscription}`;
    expect((await sweepUnresolved(worker)).reapplied.size).toBe(0);
    await t.sql`update subscriptions set user_id = null where stripe_subscription_id = ${person.subscription}`;

    // The host application links the person again: the sweep applies what waited, in order.
    await t.sql`update users set stripe_customer_id = ${person.customer} where id = ${person.userId}`;
    const swept = await sweepUnresolved(worker);
    expect([...swept.reapplied.keys()].sort()).toEqual([checkout.id, updated.id].sort());
    expect(await ledgerOutcome(updated.id)).toBe('applied');
    expect(await subscriptionRow(person.subscription)).toMatchObject({
      userId: person.userId,
      stripeCustomerId: person.customer,
      status: 'past_due',
    });
    expect(await userRow(person.userId)).toMatchObject({ stripeCustomerId: person.customer, subscriptionStatus: 'past_due' });
    // The host is told again from where the rows of the person's subjects left off (their rows were
    // erased, their last sequences kept): access again (the subscription as the checkout found it),
    // then the update's new price and past_due, whose grace is long over.
    expect((await hostRows(person)).outbox).toEqual([
      { subject: `user:${person.userId}`, sequence: 2, type: 'user.access_granted' },
      { subject: person.subscription, sequence: 3, type: 'subscription.plan_changed' },
      { subject: person.subscription, sequence: 4, type: 'subscription.past_due' },
      { subject: `user:${person.userId}`, sequence: 3, type: 'user.access_revoked' },
    ]);
  });

  it('a new customer of the same person is found by email as any other', async () => {
    const person = await seedPerson('again');
    await eraseDatabase(t.db, await findPerson(t.db, { email: person.email }), false);
    const customer = stripeId('cus');
    const checkout = event(
      'checkout.session.completed',
      checkoutSessionObject({ subscription: stripeId('sub'), customer, customerEmail: person.email }),
      { created: T0 + 120 },
    );
    expect((await apply(checkout))[0]).toMatchObject({ outcome: 'applied', userVia: 'email', linkedCustomerId: customer });
    expect(await userRow(person.userId)).toMatchObject({ stripeCustomerId: customer, subscriptionStatus: 'active' });
  });
});
