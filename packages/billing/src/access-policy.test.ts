import { describe, expect, it } from 'vitest';
import { accessDecision, subscriptionGrant, type AccessPolicy } from './access-policy';
import type { SubscriptionState } from './lifecycle';

/** docs/design.md "Host application contract", access policy (access-policy.ts). */

const T = 1_790_000_000;
const DAY = 86_400;
const policy: AccessPolicy = { pastDueGraceSeconds: 7 * DAY };

function subscription(
  id: string,
  status: string,
  fields: Partial<SubscriptionState> & Partial<SubscriptionState['facts']> = {},
): SubscriptionState {
  const { cancelAt = null, trialEnd = null, planSlug = 'pro', ...rest } = fields;
  return {
    subscriptionId: id,
    customerId: 'cus_1',
    userId: 1,
    status,
    facts: { currentPeriodEnd: T + 30 * DAY, priceId: `price_${planSlug}`, planSlug, period: 'monthly', cancelAt, trialEnd },
    statusAt: T,
    statusFrom: null,
    statusSince: T,
    snapshotAt: T,
    snapshotStatus: status,
    snapshotFrom: {},
    lastEventAt: T,
    ...rest,
  };
}

describe('subscriptionGrant', () => {
  it.each([
    ['active', subscription('s', 'active'), T + 100 * DAY, true, 'active', null],
    ['trialing with a trial end', subscription('s', 'trialing', { trialEnd: T + 14 * DAY }), T, true, 'trialing', T + 14 * DAY],
    ['trialing, the trial over', subscription('s', 'trialing', { trialEnd: T + 14 * DAY }), T + 14 * DAY, false, 'none', null],
    ['past_due within the grace', subscription('s', 'past_due'), T + 6 * DAY, true, 'past_due_grace', T + 7 * DAY],
    ['past_due, the grace over', subscription('s', 'past_due'), T + 7 * DAY, false, 'none', null],
    // The same status said again later moved status_at, not the grace's start.
    ['past_due, said again later', subscription('s', 'past_due', { statusAt: T + 5 * DAY }), T + 8 * DAY, false, 'none', null],
    [
      'past_due on a row from before status_since',
      subscription('s', 'past_due', { statusSince: null, statusAt: T + DAY }),
      T + 7 * DAY,
      true,
      'past_due_grace',
      T + 8 * DAY,
    ],
    [
      'active, cancellation scheduled',
      subscription('s', 'active', { cancelAt: T + 3 * DAY }),
      T,
      true,
      'cancellation_scheduled',
      T + 3 * DAY,
    ],
    [
      'active, the scheduled cancellation past (its deletion not arrived)',
      subscription('s', 'active', { cancelAt: T + 3 * DAY }),
      T + 3 * DAY,
      false,
      'none',
      null,
    ],
    [
      'trialing, cancellation before the trial ends',
      subscription('s', 'trialing', { trialEnd: T + 14 * DAY, cancelAt: T + 3 * DAY }),
      T,
      true,
      'cancellation_scheduled',
      T + 3 * DAY,
    ],
    [
      'past_due, cancellation after the grace',
      subscription('s', 'past_due', { cancelAt: T + 20 * DAY }),
      T,
      true,
      'past_due_grace',
      T + 7 * DAY,
    ],
    ['provisional active (no Stripe object yet)', subscription('s', 'active', { snapshotAt: null }), T, false, 'none', null],
    ...['incomplete', 'incomplete_expired', 'unpaid', 'paused', 'canceled'].map(
      (status) => [status, subscription('s', status), T, false, 'none', null] as const,
    ),
  ] as const)('%s', (_name, s, now, grants, reason, until) => {
    expect(subscriptionGrant(s, now, policy)).toMatchObject({ grants, reason, until });
  });
});

describe('accessDecision', () => {
  it('none without a granting subscription', () => {
    expect(accessDecision([subscription('a', 'canceled')], T, policy)).toMatchObject({
      hasAccess: false,
      planSlug: null,
      reason: 'none',
      accessUntil: null,
      subscriptionId: null,
    });
  });

  it('any granting subscription grants; the one lasting longest gives plan, reason and end', () => {
    const old = subscription('a', 'active', { planSlug: 'starter', cancelAt: T + 10 * DAY });
    const fresh = subscription('b', 'active', { planSlug: 'business', statusSince: T + DAY });
    expect(accessDecision([old, fresh], T + 2 * DAY, policy)).toMatchObject({
      hasAccess: true,
      planSlug: 'business',
      reason: 'active',
      accessUntil: null,
      subscriptionId: 'b',
    });
    const grace = subscription('c', 'past_due', { planSlug: 'business' });
    expect(accessDecision([old, grace], T, policy)).toMatchObject({
      planSlug: 'starter',
      reason: 'cancellation_scheduled',
      accessUntil: T + 10 * DAY,
    });
  });

  it('two without an end: the newest status wins, then the id', () => {
    const a = subscription('a', 'active', { planSlug: 'starter' });
    const b = subscription('b', 'active', { planSlug: 'business', statusSince: T + 5 });
    expect(accessDecision([a, b], T + 10, policy).subscriptionId).toBe('b');
    expect(accessDecision([a, { ...b, statusSince: T }], T + 10, policy).subscriptionId).toBe('a');
  });

  it('nothing about the decision changes by the clock before access_until', () => {
    const subs = [
      subscription('a', 'trialing', { trialEnd: T + 3 * DAY, planSlug: 'starter' }),
      subscription('b', 'past_due', { planSlug: 'business', statusSince: T + DAY }),
    ];
    const first = accessDecision(subs, T, policy);
    expect(first.accessUntil).toBe(T + 8 * DAY);
    for (let now = T; now < first.accessUntil!; now += DAY / 2) {
      const { grants: _g, ...decision } = accessDecision(subs, now, policy);
      const { grants: _f, ...expected } = first;
      expect(decision).toEqual(expected);
    }
    expect(accessDecision(subs, first.accessUntil!, policy).hasAccess).toBe(false);
  });
});
