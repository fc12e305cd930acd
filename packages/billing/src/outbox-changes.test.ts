import { describe, expect, it } from 'vitest';
import { statusType, subscriptionChanges, userChanges, type PublishedSubscription, type PublishedUser } from './outbox-changes';

/** The type table of docs/design.md "Host application contract" (outbox-changes.ts), row by row. */

const ACTIVE: PublishedSubscription = { status: 'active', plan_slug: 'pro', period: 'monthly', price_id: 'price_pro', cancel_at: null };
const T = 1_790_000_000;
const types = (before: PublishedSubscription | null, now: PublishedSubscription | null) =>
  subscriptionChanges(before, now).rows.map((r) => [r.type, r.changes]);

describe('statusType', () => {
  it.each([
    [null, 'active', 'subscription.activated'],
    ['incomplete', 'active', 'subscription.activated'],
    ['trialing', 'active', 'subscription.activated'],
    ['past_due', 'active', 'subscription.recovered'],
    ['unpaid', 'active', 'subscription.recovered'],
    ['paused', 'active', 'subscription.resumed'],
    ['paused', 'trialing', 'subscription.resumed'],
    [null, 'trialing', 'subscription.trial_started'],
    ['active', 'trialing', 'subscription.trial_started'],
    ['active', 'past_due', 'subscription.past_due'],
    ['trialing', 'past_due', 'subscription.past_due'],
    ['past_due', 'unpaid', 'subscription.unpaid'],
    ['trialing', 'paused', 'subscription.paused'],
    ['active', 'canceled', 'subscription.ended'],
    [null, 'canceled', 'subscription.ended'],
    ['incomplete', 'incomplete_expired', 'subscription.ended'],
    // No row of their own (Stripe makes none of these after a subscription's first object):
    [null, 'incomplete', undefined],
    ['active', 'incomplete', undefined],
    ['canceled', 'incomplete_expired', undefined],
    ['active', 'some_new_status', undefined],
    ['active', 'active', undefined],
  ] as const)('%s → %s: %s', (from, to, type) => {
    expect(statusType(from, to)).toBe(type);
  });
});

describe('subscriptionChanges', () => {
  it('provisional (nothing to tell): no row, nothing told', () => {
    expect(subscriptionChanges(null, null)).toEqual({ rows: [], published: null });
  });

  it('a new active subscription: created (its facts), then activated (its status)', () => {
    expect(types(null, ACTIVE)).toEqual([
      ['subscription.created', { plan_slug: [null, 'pro'], period: [null, 'monthly'], price_id: [null, 'price_pro'] }],
      ['subscription.activated', { status: [null, 'active'] }],
    ]);
  });

  it('a new incomplete one: created names the status (no row of its own)', () => {
    expect(types(null, { ...ACTIVE, status: 'incomplete' })).toEqual([
      [
        'subscription.created',
        { status: [null, 'incomplete'], plan_slug: [null, 'pro'], period: [null, 'monthly'], price_id: [null, 'price_pro'] },
      ],
    ]);
  });

  it('a new one already scheduled to cancel: created, activated, cancellation_scheduled', () => {
    expect(types(null, { ...ACTIVE, cancel_at: T }).map(([type]) => type)).toEqual([
      'subscription.created',
      'subscription.activated',
      'subscription.cancellation_scheduled',
    ]);
  });

  it('a new one already ended (its deletion arrived first): created with its cancellation, then ended', () => {
    expect(types(null, { ...ACTIVE, status: 'canceled', cancel_at: T })).toEqual([
      [
        'subscription.created',
        { plan_slug: [null, 'pro'], period: [null, 'monthly'], price_id: [null, 'price_pro'], cancel_at: [null, T] },
      ],
      ['subscription.ended', { status: [null, 'canceled'] }],
    ]);
  });

  it.each([
    ['past_due', { ...ACTIVE, status: 'past_due' }, [['subscription.past_due', { status: ['active', 'past_due'] }]]],
    ['cancellation scheduled', { ...ACTIVE, cancel_at: T }, [['subscription.cancellation_scheduled', { cancel_at: [null, T] }]]],
    [
      'price and plan',
      { ...ACTIVE, price_id: 'price_biz', plan_slug: 'business' },
      [['subscription.plan_changed', { plan_slug: ['pro', 'business'], price_id: ['price_pro', 'price_biz'] }]],
    ],
    ['period only', { ...ACTIVE, period: 'yearly' }, [['subscription.plan_changed', { period: ['monthly', 'yearly'] }]]],
    ['nothing told changes', { ...ACTIVE }, []],
  ] as const)('from active: %s', (_name, now, rows) => {
    expect(types(ACTIVE, now)).toEqual(rows);
  });

  it('ended: one row, naming the scheduled cancellation it cleared', () => {
    expect(types({ ...ACTIVE, cancel_at: T }, { ...ACTIVE, status: 'canceled', cancel_at: null })).toEqual([
      ['subscription.ended', { status: ['active', 'canceled'], cancel_at: [T, null] }],
    ]);
  });

  it('a scheduled cancellation withdrawn, and one moved to another date', () => {
    expect(types({ ...ACTIVE, cancel_at: T }, ACTIVE)).toEqual([['subscription.cancellation_withdrawn', { cancel_at: [T, null] }]]);
    expect(types({ ...ACTIVE, cancel_at: T }, { ...ACTIVE, cancel_at: T + 10 })).toEqual([
      ['subscription.cancellation_scheduled', { cancel_at: [T, T + 10] }],
    ]);
  });

  it('several changes at once: plan, then status, then cancellation, each naming its own fields', () => {
    expect(types(ACTIVE, { ...ACTIVE, status: 'past_due', plan_slug: 'business', cancel_at: T })).toEqual([
      ['subscription.plan_changed', { plan_slug: ['pro', 'business'] }],
      ['subscription.past_due', { status: ['active', 'past_due'] }],
      ['subscription.cancellation_scheduled', { cancel_at: [null, T] }],
    ]);
  });

  it('a status move no row names rides with the next row, from what was told', () => {
    const odd = subscriptionChanges(ACTIVE, { ...ACTIVE, status: 'incomplete' });
    expect(odd).toEqual({ rows: [], published: ACTIVE });
    expect(types(odd.published, { ...ACTIVE, status: 'incomplete', cancel_at: T })).toEqual([
      ['subscription.cancellation_scheduled', { cancel_at: [null, T], status: ['active', 'incomplete'] }],
    ]);
  });

  it('ended once: a move between the terminal statuses writes no second ended', () => {
    const ended = { ...ACTIVE, status: 'canceled' };
    expect(types(ended, { ...ended, status: 'incomplete_expired' })).toEqual([]);
  });
});

describe('userChanges', () => {
  const none: PublishedUser = { has_access: false, plan_slug: null, entitlements: [] };
  const pro: PublishedUser = { has_access: true, plan_slug: 'pro', entitlements: [] };
  it.each<[string, PublishedUser, PublishedUser, unknown[]]>([
    ['granted', none, pro, [['user.access_granted', { has_access: [false, true], plan_slug: [null, 'pro'] }]]],
    ['revoked', pro, none, [['user.access_revoked', { has_access: [true, false], plan_slug: ['pro', null] }]]],
    ['another plan', pro, { ...pro, plan_slug: 'business' }, [['user.plan_changed', { plan_slug: ['pro', 'business'] }]]],
    ['entitlements', pro, { ...pro, entitlements: ['a', 'b'] }, [['user.entitlements_changed', { entitlements: [[], ['a', 'b']] }]]],
    ['nothing', pro, { ...pro }, []],
  ])('%s', (_name, before, now, rows) => {
    expect(userChanges(before, now).map((r) => [r.type, r.changes])).toEqual(rows);
  });
});
