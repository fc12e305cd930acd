import { defaultBillingConfig } from '@billing/billing';
import { describe, expect, it } from 'vitest';
import { compareSubscriptions, compareUsers } from './compare';
import { remoteSubscription, type RemoteSubscription, type StoredSubscription, type StoredUser } from './drift';
import { NO_PENDING_WORK, pendingWorkOf } from './pending-work';

const T = 1_790_000_000;
const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', 'Z');

const ours = (change: Partial<StoredSubscription> = {}): StoredSubscription => ({
  subscriptionId: 'sub_1',
  customerId: 'cus_1',
  userId: 7,
  status: 'active',
  currentPeriodEnd: T + 30 * 86_400,
  priceId: 'price_pro_monthly',
  planSlug: 'pro',
  period: 'monthly',
  cancelAt: null,
  trialEnd: null,
  lastEventAt: T,
  ...change,
});

const theirs = (change: Partial<RemoteSubscription> = {}): RemoteSubscription => {
  const { userId: _u, lastEventAt: _l, ...facts } = ours();
  return { ...facts, ...change };
};

const one = (row: StoredSubscription | undefined, remote: RemoteSubscription | null, pending = NO_PENDING_WORK) =>
  compareSubscriptions(new Map(row ? [[row.subscriptionId, row]] : []), new Map([['sub_1', remote]]), pending);

describe('compareSubscriptions', () => {
  it('finds nothing when the row equals Stripe’s object', () => {
    expect(one(ours(), theirs())).toEqual({ drifts: [], skipped: [] });
  });

  it.each([
    ['status', { status: 'past_due' }, 'active', 'past_due'],
    ['period', { currentPeriodEnd: T + 60 * 86_400 }, iso(T + 30 * 86_400), iso(T + 60 * 86_400)],
    [
      'price_plan',
      { priceId: 'price_pro_yearly', period: 'yearly' as const },
      'price_pro_monthly pro/monthly',
      'price_pro_yearly pro/yearly',
    ],
    ['price_plan', { planSlug: 'business' }, 'price_pro_monthly pro/monthly', 'price_pro_monthly business/monthly'],
    ['cancellation', { cancelAt: T + 30 * 86_400 }, null, iso(T + 30 * 86_400)],
    ['trial', { trialEnd: T + 14 * 86_400 }, null, iso(T + 14 * 86_400)],
    ['user_status', { customerId: 'cus_other' }, 'customer cus_1', 'customer cus_other'],
  ])('reports %s: %o', (cls, change, from, to) => {
    const { drifts, skipped } = one(ours(), theirs(change));
    expect(skipped).toEqual([]);
    expect(drifts).toEqual([
      { subscriptionId: 'sub_1', customerId: 'cus_1', userId: 7, class: cls, ours: from, stripe: to, lastEventAt: T },
    ]);
  });

  it('reports every class a row differs in, once each', () => {
    const { drifts } = one(ours(), theirs({ status: 'canceled', cancelAt: T, trialEnd: T }));
    expect(drifts.map((d) => d.class)).toEqual(['status', 'cancellation', 'trial']);
  });

  it('reports missing_local when Stripe has a subscription we have no row of', () => {
    expect(one(undefined, theirs()).drifts).toEqual([
      {
        subscriptionId: 'sub_1',
        customerId: 'cus_1',
        userId: null,
        class: 'missing_local',
        ours: null,
        stripe: 'active',
        lastEventAt: null,
      },
    ]);
  });

  it('reports missing_remote when Stripe does not know our row', () => {
    expect(one(ours(), null).drifts).toEqual([
      { subscriptionId: 'sub_1', customerId: 'cus_1', userId: 7, class: 'missing_remote', ours: 'active', stripe: null, lastEventAt: T },
    ]);
  });

  it('leaves rows out of scope (not asked of Stripe) alone', () => {
    const rows = new Map([['sub_2', ours({ subscriptionId: 'sub_2', status: 'canceled' })]]);
    expect(compareSubscriptions(rows, new Map(), NO_PENDING_WORK)).toEqual({ drifts: [], skipped: [] });
  });

  it('skips a difference explained by an event still queued for the subscription or its customer, saying why', () => {
    const bySubscription = pendingWorkOf([{ id: 'evt_a', data: { object: { object: 'subscription', id: 'sub_1', customer: 'cus_1' } } }]);
    const result = one(ours(), theirs({ status: 'past_due' }), bySubscription);
    expect(result.drifts).toEqual([]);
    expect(result.skipped).toEqual([expect.objectContaining({ class: 'status', reason: '1 event of sub_1 still queued (evt_a)' })]);

    const byCustomer = pendingWorkOf([
      {
        id: 'evt_b',
        data: { object: { object: 'invoice', customer: 'cus_1', parent: { subscription_details: { subscription: 'sub_9' } } } },
      },
    ]);
    expect(one(ours(), theirs({ status: 'past_due' }), byCustomer).skipped[0]?.reason).toBe(
      '1 event of customer cus_1 still queued (evt_b)',
    );

    const elsewhere = pendingWorkOf([{ id: 'evt_c', data: { object: { object: 'subscription', id: 'sub_2', customer: 'cus_2' } } }]);
    expect(one(ours(), theirs({ status: 'past_due' }), elsewhere).drifts.map((d) => d.class)).toEqual(['status']);
  });
});

describe('compareUsers', () => {
  const user = (status: string | null): StoredUser => ({ userId: 7, customerId: 'cus_1', status });

  it('reports a user whose status is not the most favourable of Stripe’s statuses of their subscriptions', () => {
    const rows = new Map([
      ['sub_1', ours()],
      ['sub_2', ours({ subscriptionId: 'sub_2', status: 'canceled' })],
    ]);
    const remote = new Map([['sub_1', theirs({ status: 'canceled' })]]);
    // Stripe says sub_1 ended: the user's status is sub_2's, canceled.
    expect(compareUsers([user('active')], rows, remote, NO_PENDING_WORK).drifts).toEqual([
      {
        subscriptionId: 'sub_1',
        customerId: 'cus_1',
        userId: 7,
        class: 'user_status',
        ours: 'user 7 active',
        stripe: 'user 7 canceled',
        lastEventAt: T,
      },
    ]);
    expect(compareUsers([user('canceled')], rows, remote, NO_PENDING_WORK).drifts).toEqual([]);
  });

  it('counts Stripe’s subscriptions of the user’s customer that we have no row of', () => {
    const remote = new Map([['sub_3', theirs({ subscriptionId: 'sub_3', status: 'trialing' })]]);
    const result = compareUsers([user(null)], new Map(), remote, NO_PENDING_WORK);
    expect(result.drifts).toEqual([expect.objectContaining({ subscriptionId: 'sub_3', class: 'user_status', stripe: 'user 7 trialing' })]);
  });

  it('skips a user with an event queued for any of their subscriptions', () => {
    const rows = new Map([
      ['sub_1', ours()],
      ['sub_2', ours({ subscriptionId: 'sub_2', customerId: null })],
    ]);
    const pending = pendingWorkOf([{ id: 'evt_q', data: { object: { object: 'subscription', id: 'sub_2' } } }]);
    const result = compareUsers([{ userId: 7, customerId: null, status: 'past_due' }], rows, new Map(), pending);
    expect(result.drifts).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual(['1 event of sub_2 still queued (evt_q)']);
  });
});

describe('remoteSubscription', () => {
  it('reads an object with the worker’s rules: period end from the items, cancel_at_period_end as the period end', () => {
    const object = {
      id: 'sub_1',
      object: 'subscription',
      status: 'active',
      customer: { id: 'cus_1' },
      cancel_at: null,
      cancel_at_period_end: true,
      trial_end: null,
      metadata: {},
      items: {
        object: 'list',
        data: [{ current_period_end: T, price: { id: 'price_x', lookup_key: 'pro', recurring: { interval: 'year' } } }],
      },
    };
    expect(remoteSubscription(object, defaultBillingConfig)).toEqual({
      subscriptionId: 'sub_1',
      customerId: 'cus_1',
      status: 'active',
      currentPeriodEnd: T,
      priceId: 'price_x',
      planSlug: 'pro',
      period: 'yearly',
      cancelAt: T,
      trialEnd: null,
    });
  });
});
