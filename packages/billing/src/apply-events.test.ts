import { asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { subscriptions, subscriptionTransitions, users, webhookEvents } from '@billing/db/schema';
import type { Sql } from '@billing/db/client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import {
  billingMetadata as md,
  checkoutSessionObject,
  event,
  invoiceObject,
  lifecycle,
  stripeId,
  subscriptionObject,
  type ApiShape,
  type StripeEvent,
} from '@billing/testing/stripe-events';
import { applyEvent, type ApplyOptions } from './apply-events';
import { defaultBillingConfig } from './config';
import { InvalidEventError } from './invalid-event-error';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('apply');
});
afterAll(async () => {
  await t?.drop();
});
beforeEach(async () => {
  await t.sql`truncate users, subscriptions, webhook_events, subscription_transitions restart identity cascade`;
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
const addUser = async (email: string, stripeCustomerId: string | null = null) =>
  (await t.db.insert(users).values({ email, stripeCustomerId }).returning())[0]!;
const subscriptionRow = async (id: string) =>
  (await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, id)))[0];
const userRow = async (id: number) => (await t.db.select().from(users).where(eq(users.id, id)))[0]!;
const ledger = async () => t.db.select().from(webhookEvents).orderBy(asc(webhookEvents.id));
const transitions = async (id: string) =>
  (await t.db.select().from(subscriptionTransitions).where(eq(subscriptionTransitions.stripeSubscriptionId, id)).orderBy(asc(subscriptionTransitions.id))).map(
    (r) => [r.fromStatus, r.toStatus],
  );
const T0 = 1_790_000_000;
const END = T0 + 30 * 86_400;

describe.each<ApiShape>(['legacy', 'basil'])('lifecycle table, %s payload shape', (shape) => {
  const customer = 'cus_shape1';
  const sub = 'sub_shape1';
  const meta = md({ planSlug: 'business', period: 'yearly' });
  const subEvent = (type: string, status: string, created: number, end = END) =>
    event(type, subscriptionObject({ id: sub, customer, status, metadata: meta, currentPeriodEnd: end, interval: 'year', shape }), { created, shape });
  const invoiceEvent = (type: string, created: number) =>
    event(type, invoiceObject({ subscription: sub, customer, metadata: meta, shape, status: type === 'invoice.payment_failed' ? 'open' : 'paid' }), { created, shape });

  it('checkout.session.completed: subscription active with plan/period, user active, customer bound', async () => {
    const user = await addUser('ada@example.com');
    const result = await apply(
      event('checkout.session.completed', checkoutSessionObject({ subscription: sub, customer, customerEmail: 'Ada@Example.com ', metadata: meta }), { created: T0, shape }),
    );
    expect(result).toMatchObject({ outcome: 'applied', statusChange: { from: null, to: 'active' }, userVia: 'email' });
    expect(await subscriptionRow(sub)).toMatchObject({ userId: user.id, status: 'active', planSlug: 'business', period: 'yearly', stripeCustomerId: customer, currentPeriodEnd: null });
    expect(await userRow(user.id)).toMatchObject({ subscriptionStatus: 'active', stripeCustomerId: customer });
  });

  it('customer.subscription.created / .updated: copy status and current_period_end; user follows', async () => {
    const user = await addUser('ada@example.com', customer);
    await apply(subEvent('customer.subscription.created', 'trialing', T0));
    expect(await subscriptionRow(sub)).toMatchObject({ status: 'trialing', currentPeriodEnd: new Date(END * 1000), planSlug: 'business', period: 'yearly' });
    await apply(subEvent('customer.subscription.updated', 'active', T0 + 1, END + 100));
    expect(await subscriptionRow(sub)).toMatchObject({ status: 'active', currentPeriodEnd: new Date((END + 100) * 1000), lastEventAt: new Date((T0 + 1) * 1000) });
    expect((await userRow(user.id)).subscriptionStatus).toBe('active');
    expect(await transitions(sub)).toEqual([[null, 'trialing'], ['trialing', 'active']]);
  });

  it('customer.subscription.deleted: canceled; user canceled', async () => {
    const user = await addUser('ada@example.com', customer);
    await apply(subEvent('customer.subscription.created', 'active', T0));
    await apply(subEvent('customer.subscription.deleted', 'canceled', T0 + 1));
    expect((await subscriptionRow(sub))?.status).toBe('canceled');
    expect((await userRow(user.id)).subscriptionStatus).toBe('canceled');
  });

  it.each(['invoice.payment_succeeded', 'invoice.paid'])('%s: past_due → active', async (type) => {
    const user = await addUser('ada@example.com', customer);
    await apply(subEvent('customer.subscription.created', 'active', T0));
    await apply(invoiceEvent('invoice.payment_failed', T0 + 1));
    expect((await subscriptionRow(sub))?.status).toBe('past_due');
    expect((await userRow(user.id)).subscriptionStatus).toBe('past_due');
    const before = (await subscriptionRow(sub))!.updatedAt;
    await apply(invoiceEvent(type, T0 + 2));
    const after = (await subscriptionRow(sub))!;
    expect(after.status).toBe('active');
    expect(after.updatedAt.getTime()).toBeGreaterThan(before.getTime());
    expect((await userRow(user.id)).subscriptionStatus).toBe('active');
    expect(await transitions(sub)).toEqual([[null, 'active'], ['active', 'past_due'], ['past_due', 'active']]);
  });

  it('invoice paid on an active subscription sets nothing, not even the time of the status', async () => {
    await addUser('ada@example.com', customer);
    await apply(subEvent('customer.subscription.created', 'active', T0));
    const before = (await subscriptionRow(sub))!;
    const result = await apply(invoiceEvent('invoice.paid', T0 + 1));
    expect(result.outcome).toBe('applied');
    expect(result).not.toHaveProperty('statusChange');
    const after = (await subscriptionRow(sub))!;
    expect({ status: after.status, statusAt: after.statusAt, snapshotAt: after.snapshotAt }).toEqual({ status: 'active', statusAt: before.statusAt, snapshotAt: before.snapshotAt });
    expect(after.lastEventAt).toEqual(new Date((T0 + 1) * 1000));
    expect(await transitions(sub)).toEqual([[null, 'active']]);
  });

  it('anything else is recorded as ignored and acknowledged', async () => {
    const result = await apply(event('customer.created', { id: customer, object: 'customer', email: 'x@example.com' }, { shape }));
    expect(result.outcome).toBe('ignored');
    expect((await ledger()).map((r) => r.outcome)).toEqual(['ignored']);
  });

  it('the whole lifecycle in order ends canceled with the renewed period end', async () => {
    const user = await addUser('grace@example.com');
    const events = lifecycle({ email: 'grace@example.com', userId: user.id, shape, start: T0, subscriptionId: sub, customerId: customer });
    for (const e of events) await apply(e);
    const row = (await subscriptionRow(sub))!;
    expect(row).toMatchObject({ status: 'canceled', planSlug: 'pro', period: 'monthly', userId: user.id });
    expect(row.currentPeriodEnd?.getTime()).toBe((T0 + 60 * 86_400) * 1000);
    expect((await ledger()).map((r) => r.outcome)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'applied']);
    expect(await transitions(sub)).toEqual([[null, 'active'], ['active', 'past_due'], ['past_due', 'active'], ['active', 'canceled']]);
  });
});

describe("the seed's own cases", () => {
  it('unknown plan → unknown; bad period → monthly', async () => {
    await addUser('ada@example.com', 'cus_seed');
    await apply(event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_seed', customer: 'cus_seed', metadata: md({ planSlug: 'platinum', period: 'fortnightly' }) })));
    expect(await subscriptionRow('sub_seed')).toMatchObject({ planSlug: 'unknown', period: 'monthly' });
  });

  it('checkout in subscription mode without a subscription id fails as invalid, writing nothing', async () => {
    await addUser('ada@example.com', 'cus_seed');
    const bad = event('checkout.session.completed', checkoutSessionObject({ subscription: null, customer: 'cus_seed' }));
    await expect(apply(bad)).rejects.toThrow(InvalidEventError);
    await expect(apply(bad)).rejects.toThrow(/without a subscription id/);
    expect(await ledger()).toEqual([]);
  });

  it('checkout in payment mode is recorded and ignored', async () => {
    await addUser('ada@example.com', 'cus_seed');
    const result = await apply(event('checkout.session.completed', checkoutSessionObject({ subscription: null, customer: 'cus_seed', mode: 'payment' })));
    expect(result.outcome).toBe('ignored');
    expect(await t.db.select().from(subscriptions)).toEqual([]);
  });

  it('no user → unresolved, nothing else written', async () => {
    await addUser('someone-else@example.com');
    const result = await apply(
      event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_nouser', customer: 'cus_nouser', customerEmail: 'ghost@example.com', metadata: md({ userId: 999, planSlug: 'pro' }) })),
    );
    expect(result.outcome).toBe('unresolved');
    expect(await t.db.select().from(subscriptions)).toEqual([]);
    expect((await t.db.select().from(users))[0]).toMatchObject({ stripeCustomerId: null, subscriptionStatus: null });
    expect((await ledger()).map((r) => [r.outcome, r.stripeCustomerId, r.stripeSubscriptionId])).toEqual([['unresolved', 'cus_nouser', 'sub_nouser']]);
  });

  it.each([
    ['a subscription event whose object is an invoice', event('customer.subscription.updated', { id: 'in_1', object: 'invoice' })],
    ['a subscription without an id', event('customer.subscription.updated', { object: 'subscription', status: 'active' })],
    ['an invoice event without data.object', { ...event('invoice.paid', {}), data: {} } as unknown as StripeEvent],
  ])('%s fails as invalid with a readable reason', async (_name, bad) => {
    await expect(apply(bad)).rejects.toBeInstanceOf(InvalidEventError);
    expect(await ledger()).toEqual([]);
  });
});

describe('user resolution', () => {
  const checkout = (fields: Parameters<typeof checkoutSessionObject>[0]) =>
    event('checkout.session.completed', checkoutSessionObject({ subscription: stripeId('sub'), ...fields }));

  it('customer id wins over metadata naming another user', async () => {
    const owner = await addUser('owner@example.com', 'cus_owner');
    const other = await addUser('other@example.com');
    const e = checkout({ customer: 'cus_owner', metadata: md({ userId: other.id, planSlug: 'pro' }), customerEmail: 'other@example.com' });
    expect(await apply(e)).toMatchObject({ outcome: 'applied', userVia: 'customer' });
    expect((await subscriptionRow((e.data.object as { subscription: string }).subscription))?.userId).toBe(owner.id);
    expect((await userRow(other.id)).stripeCustomerId).toBeNull();
  });

  it('metadata user id, re-checked against the table, binds the customer', async () => {
    const user = await addUser('meta@example.com');
    expect(await apply(checkout({ customer: 'cus_meta', metadata: md({ userId: user.id }) }))).toMatchObject({ userVia: 'metadata', linkedCustomerId: 'cus_meta' });
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_meta');
  });

  it('metadata naming a user that does not exist falls through to the email', async () => {
    const user = await addUser('mail@example.com');
    expect(await apply(checkout({ customer: 'cus_mail', metadata: md({ userId: 424242 }), customerEmail: null, detailsEmail: ' MAIL@example.com' }))).toMatchObject({ userVia: 'email' });
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_mail');
  });

  it('customer_email is preferred over customer_details.email', async () => {
    const first = await addUser('first@example.com');
    await addUser('second@example.com');
    const e = checkout({ customer: 'cus_pref', customerEmail: 'first@example.com', detailsEmail: 'second@example.com' });
    await apply(e);
    expect((await subscriptionRow((e.data.object as { subscription: string }).subscription))?.userId).toBe(first.id);
  });

  it('a user that already has a customer id keeps it', async () => {
    const user = await addUser('has@example.com', 'cus_first');
    await apply(checkout({ customer: 'cus_second', customerEmail: 'has@example.com' }));
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_first');
  });

  it('an unresolved event is applied in the transaction that links its customer', async () => {
    const user = await addUser('late@example.com');
    const [checkoutEvent, created] = lifecycle({ email: 'late@example.com', subscriptionId: 'sub_late', customerId: 'cus_late', start: T0 });
    expect((await apply(created!)).outcome).toBe('unresolved');
    expect(await apply(checkoutEvent!)).toMatchObject({ outcome: 'applied', linkedCustomerId: 'cus_late' });
    expect((await ledger()).map((r) => [r.stripeEventId, r.outcome, r.unresolvedInput])).toEqual([
      [created!.id, 'applied', null],
      [checkoutEvent!.id, 'applied', null],
    ]);
    expect(await subscriptionRow('sub_late')).toMatchObject({ userId: user.id, status: 'active', currentPeriodEnd: new Date((T0 + 30 * 86_400) * 1000) });
    expect((await apply(created!)).outcome).toBe('duplicate');
  });

  it('an unresolved event keeps what it needs to be applied later, without the emails', async () => {
    await apply(event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_keep', customer: 'cus_keep', customerEmail: 'ghost@example.com' }), { created: T0 }));
    const [row] = await ledger();
    expect(row).toMatchObject({ outcome: 'unresolved', stripeCustomerId: 'cus_keep', eventCreatedAt: new Date(T0 * 1000) });
    expect(row?.unresolvedInput).toMatchObject({ subscriptionId: 'sub_keep', customerId: 'cus_keep', user: { emails: [] }, input: { kind: 'hint', hint: 'checkout' } });
    expect(JSON.stringify(row?.unresolvedInput)).not.toContain('ghost@example.com');
  });

  it('a user with another customer already: the subscription linked by checkout applies its earlier unresolved events', async () => {
    const user = await addUser('two@example.com', 'cus_first');
    const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_second', customer: 'cus_second', status: 'active' }), { created: T0 });
    expect((await apply(created)).outcome).toBe('unresolved');
    const checkout = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_second', customer: 'cus_second', customerEmail: 'two@example.com' }), { created: T0 + 1 });
    expect(await apply(checkout)).toMatchObject({ outcome: 'applied', userVia: 'email' });
    expect((await ledger()).map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect(await subscriptionRow('sub_second')).toMatchObject({ userId: user.id, snapshotAt: new Date(T0 * 1000) });
    expect((await userRow(user.id)).stripeCustomerId).toBe('cus_first');
  });

  it('an event of a customer the host application bound applies the customer’s earlier unresolved events', async () => {
    const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_host', customer: 'cus_host', status: 'trialing' }), { created: T0 });
    expect((await apply(created)).outcome).toBe('unresolved');
    const user = await addUser('host@example.com', 'cus_host');
    const paid = event('invoice.paid', invoiceObject({ subscription: 'sub_host', customer: 'cus_host' }), { created: T0 + 5 });
    expect(await apply(paid)).toMatchObject({ outcome: 'applied', userVia: 'customer' });
    expect((await ledger()).map((r) => r.outcome)).toEqual(['applied', 'applied']);
    expect(await subscriptionRow('sub_host')).toMatchObject({ userId: user.id, status: 'trialing' });
    expect((await userRow(user.id)).subscriptionStatus).toBe('trialing');
  });
});

describe('idempotency and concurrency', () => {
  it('the same event 5× concurrently → one ledger row, one subscription row, one transition', async () => {
    await addUser('dup@example.com', 'cus_dup');
    const e = event('customer.subscription.created', subscriptionObject({ id: 'sub_dup', customer: 'cus_dup' }));
    const results = await Promise.all(Array.from({ length: 5 }, () => apply(e)));
    expect(results.map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(await ledger()).toHaveLength(1);
    expect(await t.db.select().from(subscriptions)).toHaveLength(1);
    expect(await transitions('sub_dup')).toEqual([[null, 'active']]);
  });

  it('the events of one checkout second concurrently → one row each in the ledger, one subscription, the later status', async () => {
    await addUser('pair@example.com', 'cus_pair');
    const object = subscriptionObject({ id: 'sub_pair', customer: 'cus_pair', status: 'incomplete' });
    const created = event('customer.subscription.created', object, { created: T0 });
    const activated = { ...event('customer.subscription.updated', { ...object, status: 'active' }, { created: T0 }) };
    activated.data.previous_attributes = { status: 'incomplete' };
    const paid = event('invoice.paid', invoiceObject({ subscription: 'sub_pair', customer: 'cus_pair' }), { created: T0 });
    for (let round = 0; round < 5; round += 1) {
      await t.sql`truncate subscriptions, webhook_events, subscription_transitions restart identity`;
      await Promise.all([created, activated, paid].map((e) => apply({ ...e, id: `${e.id}${round}` })));
      expect(await ledger()).toHaveLength(3);
      const rows = await t.db.select().from(subscriptions);
      expect(rows.map((r) => r.status)).toEqual(['active']);
    }
  });
});

describe('out of order', () => {
  beforeEach(async () => {
    await addUser('order@example.com', 'cus_order');
  });
  const sub = (type: string, status: string, created: number, end = END) =>
    event(type, subscriptionObject({ id: 'sub_order', customer: 'cus_order', status, currentPeriodEnd: end }), { created });

  it('deleted then an older updated → stays canceled (stale)', async () => {
    await apply(sub('customer.subscription.deleted', 'canceled', T0 + 10));
    expect((await apply(sub('customer.subscription.updated', 'active', T0 + 5))).outcome).toBe('stale');
    expect((await subscriptionRow('sub_order'))?.status).toBe('canceled');
    expect((await ledger()).map((r) => r.outcome)).toEqual(['applied', 'stale']);
  });

  it('a newer updated then an older payment_failed → stays active, last_event_at does not move back', async () => {
    await apply(sub('customer.subscription.updated', 'active', T0 + 10));
    const failed = event('invoice.payment_failed', invoiceObject({ subscription: 'sub_order', customer: 'cus_order', status: 'open' }), { created: T0 + 5 });
    expect((await apply(failed)).outcome).toBe('stale');
    expect(await subscriptionRow('sub_order')).toMatchObject({ status: 'active', lastEventAt: new Date((T0 + 10) * 1000) });
    expect(await transitions('sub_order')).toEqual([[null, 'active']]);
  });

  it('nothing moves a subscription out of canceled, even a newer event', async () => {
    await apply(sub('customer.subscription.deleted', 'canceled', T0));
    expect((await apply(sub('customer.subscription.updated', 'active', T0 + 60))).outcome).toBe('ignored');
    const paid = event('invoice.paid', invoiceObject({ subscription: 'sub_order', customer: 'cus_order' }), { created: T0 + 61 });
    await apply(paid);
    expect((await subscriptionRow('sub_order'))?.status).toBe('canceled');
    expect(await transitions('sub_order')).toEqual([[null, 'canceled']]);
  });

  it('the first snapshot replaces a provisional status whatever its time', async () => {
    await apply(event('invoice.payment_failed', invoiceObject({ subscription: 'sub_order', customer: 'cus_order', status: 'open' }), { created: T0 + 10 }));
    expect(await subscriptionRow('sub_order')).toMatchObject({ status: 'past_due', currentPeriodEnd: null, snapshotAt: null });
    expect((await apply(sub('customer.subscription.created', 'active', T0))).outcome).toBe('applied');
    expect(await subscriptionRow('sub_order')).toMatchObject({ status: 'active', currentPeriodEnd: new Date(END * 1000), statusAt: new Date(T0 * 1000) });
  });

  it('an older snapshot is stale and only fills what the row does not know', async () => {
    await apply(event('customer.subscription.updated', { ...subscriptionObject({ id: 'sub_order', customer: 'cus_order', status: 'active', currentPeriodEnd: END }), items: { data: [] } }, { created: T0 + 10 }));
    expect(await subscriptionRow('sub_order')).toMatchObject({ currentPeriodEnd: null, stripePriceId: null, planSlug: 'unknown' });
    const older = event('customer.subscription.created', subscriptionObject({ id: 'sub_order', customer: 'cus_order', status: 'incomplete', currentPeriodEnd: END, metadata: md({ planSlug: 'pro' }) }), { created: T0 });
    expect((await apply(older)).outcome).toBe('stale');
    expect(await subscriptionRow('sub_order')).toMatchObject({ status: 'active', currentPeriodEnd: new Date(END * 1000), planSlug: 'pro' });
  });
});

describe('Stripe API enrichment for checkout', () => {
  it('applies the fetched subscription as a snapshot taken at the fetch', async () => {
    await addUser('rich@example.com', 'cus_rich');
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_rich', customer: 'cus_rich' }), { created: T0 });
    const fetched = subscriptionObject({ id: 'sub_rich', customer: 'cus_rich', status: 'trialing', currentPeriodEnd: END });
    const before = Math.floor(Date.now() / 1000);
    await apply(e, { fetchSubscription: async (id) => (id === 'sub_rich' ? fetched : undefined) });
    const row = (await subscriptionRow('sub_rich'))!;
    expect(row).toMatchObject({ status: 'trialing', currentPeriodEnd: new Date(END * 1000) });
    expect(row.snapshotAt!.getTime() / 1000).toBeGreaterThanOrEqual(before);
    expect(row.snapshotAt!.getTime()).toBeLessThanOrEqual(Date.now()); // the fetch's time, not the event's
    // An event older than the fetch is stale: the fetched object is newer than anything in it.
    expect((await apply(event('customer.subscription.created', subscriptionObject({ id: 'sub_rich', customer: 'cus_rich', status: 'incomplete' }), { created: T0 }))).outcome).toBe('stale');
  });

  it('a fetch failure is reported and the event still applies', async () => {
    await addUser('poor@example.com', 'cus_poor');
    const errors: unknown[] = [];
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_poor', customer: 'cus_poor' }));
    const result = await apply(e, { fetchSubscription: async () => Promise.reject(new Error('Stripe is down')), onEnrichmentError: (err) => errors.push(err) });
    expect(result.outcome).toBe('applied');
    expect(errors).toHaveLength(1);
    expect(await subscriptionRow('sub_poor')).toMatchObject({ status: 'active', currentPeriodEnd: null });
  });
});
