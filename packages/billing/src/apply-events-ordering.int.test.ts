import { beforeEach, describe, expect, it } from 'vitest';
import { subscriptions } from '@billing/db/schema';
import { billingMetadata as md, event, invoiceObject, subscriptionObject } from '@billing/stripe-simulator/events';
import { END, T0, useApplyFixture } from './apply-events.fixture';

// applyEvent: the same event many times at once, and events delivered out of order.
const { database, apply, addUser, subscriptionRow, ledger, transitions } = useApplyFixture('apply_ordering');

describe('idempotency and concurrency', () => {
  it('the same event 5× concurrently → one ledger row, one subscription row, one transition', async () => {
    await addUser('dup@example.com', 'cus_dup');
    const e = event('customer.subscription.created', subscriptionObject({ id: 'sub_dup', customer: 'cus_dup' }));
    const results = await Promise.all(Array.from({ length: 5 }, () => apply(e)));
    expect(results.map((r) => r.outcome).sort()).toEqual(['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate']);
    expect(await ledger()).toHaveLength(1);
    expect(await database().db.select().from(subscriptions)).toHaveLength(1);
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
      await database().sql`truncate subscriptions, webhook_events, subscription_transitions restart identity`;
      await Promise.all([created, activated, paid].map((e) => apply({ ...e, id: `${e.id}${round}` })));
      expect(await ledger()).toHaveLength(3);
      const rows = await database().db.select().from(subscriptions);
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
    const failed = event('invoice.payment_failed', invoiceObject({ subscription: 'sub_order', customer: 'cus_order', status: 'open' }), {
      created: T0 + 5,
    });
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
    await apply(
      event('invoice.payment_failed', invoiceObject({ subscription: 'sub_order', customer: 'cus_order', status: 'open' }), {
        created: T0 + 10,
      }),
    );
    expect(await subscriptionRow('sub_order')).toMatchObject({ status: 'past_due', currentPeriodEnd: null, snapshotAt: null });
    expect((await apply(sub('customer.subscription.created', 'active', T0))).outcome).toBe('applied');
    expect(await subscriptionRow('sub_order')).toMatchObject({
      status: 'active',
      currentPeriodEnd: new Date(END * 1000),
      statusAt: new Date(T0 * 1000),
    });
  });

  it('an older snapshot is stale and only fills a null period end (the plan comes from the newest snapshot)', async () => {
    await apply(
      event(
        'customer.subscription.updated',
        { ...subscriptionObject({ id: 'sub_order', customer: 'cus_order', status: 'active', currentPeriodEnd: END }), items: { data: [] } },
        { created: T0 + 10 },
      ),
    );
    expect(await subscriptionRow('sub_order')).toMatchObject({ currentPeriodEnd: null, stripePriceId: null, planSlug: 'unknown' });
    const older = event(
      'customer.subscription.created',
      subscriptionObject({
        id: 'sub_order',
        customer: 'cus_order',
        status: 'incomplete',
        currentPeriodEnd: END,
        metadata: md({ planSlug: 'pro' }),
      }),
      { created: T0 },
    );
    expect((await apply(older)).outcome).toBe('stale');
    // Stripe's newest object names no price and no plan: `unknown` is what it says, not something missing.
    expect(await subscriptionRow('sub_order')).toMatchObject({
      status: 'active',
      currentPeriodEnd: new Date(END * 1000),
      stripePriceId: null,
      planSlug: 'unknown',
    });
  });
});
