import { describe, expect, it } from 'vitest';
import { PRICES } from '@billing/stripe-simulator/corpus';
import { SubscriptionHistory, type CatalogPrice } from '@billing/stripe-simulator/history';
import { expectedSubscription } from '@billing/stripe-simulator/oracle';
import type { StripeEvent } from '@billing/stripe-simulator/events';
import { T0, useApplyFixture } from './apply-events.fixture';

/**
 * docs/design.md "Snapshots and hints": a stale snapshot may only fill a null period end; it never
 * changes price, plan or period. Each history is delivered in Stripe's order and reversed, and
 * the row compared with Stripe's final object (issue 19, item 3; and the deletion of an
 * `incomplete_expired` subscription).
 */
const { database, apply, addUser, subscriptionRow } = useApplyFixture('apply_snapshots');

/** A price the catalog does not name: no `PLAN_PRICES` entry, no plan in its metadata, a lookup key that is not a slug. */
const CUSTOM: CatalogPrice = {
  id: 'price_custom_enterprise',
  interval: 'month',
  unitAmount: 49_900,
  lookupKey: 'enterprise-2026',
  plan: 'unknown',
};

let histories = 0;
const history = (name: string) => {
  const tag = `${name}${(histories += 1)}`;
  return new SubscriptionHistory({ subscription: `sub_${tag}`, customer: `cus_${tag}`, tag });
};

/** The row's facts as the oracle names them. */
async function facts(subscription: string) {
  const row = (await subscriptionRow(subscription))!;
  return {
    subscriptionId: row.stripeSubscriptionId,
    status: row.status,
    currentPeriodEnd: row.currentPeriodEnd && row.currentPeriodEnd.getTime() / 1000,
    priceId: row.stripePriceId,
    planSlug: row.planSlug,
    period: row.period,
    cancelAt: row.cancelAt && row.cancelAt.getTime() / 1000,
    trialEnd: row.trialEnd && row.trialEnd.getTime() / 1000,
  };
}

type Order = <T>(items: readonly T[]) => T[];
const ORDERS: Array<[string, Order]> = [
  ['in Stripe’s order', (items) => [...items]],
  ['reversed', (items) => [...items].reverse()],
];

describe.each(ORDERS)('delivered %s', (_order, order) => {
  it('(a) the newest price names no catalog plan: the plan stays unknown, an older snapshot with a catalog price does not name it', async () => {
    const h = history('custom');
    await addUser(`custom-${h.ids.tag}@example.com`, h.ids.customer);
    h.create(T0, { status: 'active', price: PRICES.businessYearly });
    h.update(T0 + 10, { price: CUSTOM });
    for (const e of order(h.events)) await apply(e);
    // Stripe's final object: its price, and the plan that price names (none: `unknown`), monthly.
    const final = h.finalModel;
    expect(await facts(h.ids.subscription)).toEqual({
      subscriptionId: h.ids.subscription,
      status: final.status,
      currentPeriodEnd: final.periodEnd,
      priceId: CUSTOM.id,
      planSlug: 'unknown',
      period: 'monthly',
      cancelAt: null,
      trialEnd: null,
    });
  });

  it('(b) a row kept from before prices were stored: an older snapshot changes neither plan nor period; the newer one sets the price', async () => {
    const h = history('legacy');
    await addUser(`legacy-${h.ids.tag}@example.com`, h.ids.customer);
    h.create(T0, { status: 'active', price: PRICES.starterMonthly });
    h.update(T0 + 10, { price: PRICES.businessYearly });
    h.update(T0 + 20, { cancelAtPeriodEnd: true });
    const [created, upgraded, scheduled] = h.events as [StripeEvent, StripeEvent, StripeEvent];
    // The row as the upgrade left it, then migrated: the price was not stored yet.
    await apply(upgraded);
    await database().sql`update subscriptions set stripe_price_id = null where stripe_subscription_id = ${h.ids.subscription}`;

    const deliveries = order([created, scheduled]);
    const outcomes: string[] = [];
    for (const e of deliveries) {
      outcomes.push((await apply(e)).outcome);
      if (e === created) {
        // The stale snapshot changed nothing: no price until a newer snapshot brings one.
        expect(await subscriptionRow(h.ids.subscription)).toMatchObject({
          stripePriceId: deliveries[0] === created ? null : PRICES.businessYearly.id,
          planSlug: 'business',
          period: 'yearly',
        });
      }
    }
    expect(outcomes).toEqual(order(['stale', 'applied']));
    expect(await facts(h.ids.subscription)).toEqual(expectedSubscription(h));
  });

  it('customer.subscription.deleted of an incomplete_expired subscription: the row stays incomplete_expired, as Stripe’s object says', async () => {
    const h = history('expired');
    await addUser(`expired-${h.ids.tag}@example.com`, h.ids.customer);
    h.create(T0, { status: 'incomplete', price: PRICES.starterMonthly });
    h.update(T0 + 23 * 3_600, { status: 'incomplete_expired', endedAt: T0 + 23 * 3_600 });
    // Stripe deletes an expired incomplete subscription with its status as it is.
    h.other(T0 + 23 * 3_600, 'customer.subscription.deleted', h.final);
    for (const e of order(h.events)) await apply(e);
    expect(expectedSubscription(h).status).toBe('incomplete_expired');
    expect(await facts(h.ids.subscription)).toEqual(expectedSubscription(h));
  });
});
