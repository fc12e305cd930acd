import { describe, expect, it } from 'vitest';
import { subscriptions, users } from '@billing/db/schema';
import {
  billingMetadata as md,
  checkoutSessionObject,
  event,
  invoiceObject,
  lifecycle,
  subscriptionObject,
  type ApiShape,
  type StripeEvent,
} from '@billing/stripe-simulator/events';
import { END, T0, useApplyFixture } from './apply-events.fixture';
import { InvalidEventError } from './invalid-event-error';

// applyEvent, one event at a time: the lifecycle table in both payload shapes, and the cases the seed shipped with.
const { database, apply, addUser, subscriptionRow, userRow, ledger, transitions } = useApplyFixture('apply');

describe.each<ApiShape>(['legacy', 'basil'])('lifecycle table, %s payload shape', (shape) => {
  const customer = 'cus_shape1';
  const sub = 'sub_shape1';
  const meta = md({ planSlug: 'business', period: 'yearly' });
  const subEvent = (type: string, status: string, created: number, end = END) =>
    event(type, subscriptionObject({ id: sub, customer, status, metadata: meta, currentPeriodEnd: end, interval: 'year', shape }), {
      created,
      shape,
    });
  const invoiceEvent = (type: string, created: number) =>
    event(
      type,
      invoiceObject({ subscription: sub, customer, metadata: meta, shape, status: type === 'invoice.payment_failed' ? 'open' : 'paid' }),
      { created, shape },
    );

  it('checkout.session.completed: subscription active with plan/period, user active, customer bound', async () => {
    const user = await addUser('ada@example.com');
    const result = await apply(
      event(
        'checkout.session.completed',
        checkoutSessionObject({ subscription: sub, customer, customerEmail: 'Ada@Example.com ', metadata: meta }),
        { created: T0, shape },
      ),
    );
    expect(result).toMatchObject({ outcome: 'applied', statusChange: { from: null, to: 'active' }, userVia: 'email' });
    expect(await subscriptionRow(sub)).toMatchObject({
      userId: user.id,
      status: 'active',
      planSlug: 'business',
      period: 'yearly',
      stripeCustomerId: customer,
      currentPeriodEnd: null,
    });
    expect(await userRow(user.id)).toMatchObject({ subscriptionStatus: 'active', stripeCustomerId: customer });
  });

  it('customer.subscription.created / .updated: copy status and current_period_end; user follows', async () => {
    const user = await addUser('ada@example.com', customer);
    await apply(subEvent('customer.subscription.created', 'trialing', T0));
    expect(await subscriptionRow(sub)).toMatchObject({
      status: 'trialing',
      currentPeriodEnd: new Date(END * 1000),
      planSlug: 'business',
      period: 'yearly',
    });
    await apply(subEvent('customer.subscription.updated', 'active', T0 + 1, END + 100));
    expect(await subscriptionRow(sub)).toMatchObject({
      status: 'active',
      currentPeriodEnd: new Date((END + 100) * 1000),
      lastEventAt: new Date((T0 + 1) * 1000),
    });
    expect((await userRow(user.id)).subscriptionStatus).toBe('active');
    expect(await transitions(sub)).toEqual([
      [null, 'trialing'],
      ['trialing', 'active'],
    ]);
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
    expect(await transitions(sub)).toEqual([
      [null, 'active'],
      ['active', 'past_due'],
      ['past_due', 'active'],
    ]);
  });

  it('invoice paid on an active subscription sets nothing, not even the time of the status', async () => {
    await addUser('ada@example.com', customer);
    await apply(subEvent('customer.subscription.created', 'active', T0));
    const before = (await subscriptionRow(sub))!;
    const result = await apply(invoiceEvent('invoice.paid', T0 + 1));
    expect(result.outcome).toBe('applied');
    expect(result).not.toHaveProperty('statusChange');
    const after = (await subscriptionRow(sub))!;
    expect({ status: after.status, statusAt: after.statusAt, snapshotAt: after.snapshotAt }).toEqual({
      status: 'active',
      statusAt: before.statusAt,
      snapshotAt: before.snapshotAt,
    });
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
    expect(await transitions(sub)).toEqual([
      [null, 'active'],
      ['active', 'past_due'],
      ['past_due', 'active'],
      ['active', 'canceled'],
    ]);
  });
});

describe("the seed's own cases", () => {
  it('unknown plan → unknown; bad period → monthly', async () => {
    await addUser('ada@example.com', 'cus_seed');
    await apply(
      event(
        'checkout.session.completed',
        checkoutSessionObject({
          subscription: 'sub_seed',
          customer: 'cus_seed',
          metadata: md({ planSlug: 'platinum', period: 'fortnightly' }),
        }),
      ),
    );
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
    const result = await apply(
      event('checkout.session.completed', checkoutSessionObject({ subscription: null, customer: 'cus_seed', mode: 'payment' })),
    );
    expect(result.outcome).toBe('ignored');
    expect(await database().db.select().from(subscriptions)).toEqual([]);
  });

  it('no user → unresolved, nothing else written', async () => {
    await addUser('someone-else@example.com');
    const result = await apply(
      event(
        'checkout.session.completed',
        checkoutSessionObject({
          subscription: 'sub_nouser',
          customer: 'cus_nouser',
          customerEmail: 'ghost@example.com',
          metadata: md({ userId: 999, planSlug: 'pro' }),
        }),
      ),
    );
    expect(result.outcome).toBe('unresolved');
    expect(await database().db.select().from(subscriptions)).toEqual([]);
    expect((await database().db.select().from(users))[0]).toMatchObject({ stripeCustomerId: null, subscriptionStatus: null });
    expect((await ledger()).map((r) => [r.outcome, r.stripeCustomerId, r.stripeSubscriptionId])).toEqual([
      ['unresolved', 'cus_nouser', 'sub_nouser'],
    ]);
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
