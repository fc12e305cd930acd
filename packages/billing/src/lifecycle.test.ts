import { describe, expect, it } from 'vitest';
import type { ChangedFrom, Hint, Snapshot, SubscriptionFacts } from './lifecycle-input';
import { applyInput, type SubscriptionState } from './lifecycle';

/** The rules of docs/design.md "Lifecycle rules", one input against one stored row, no database. */

const T = 1_790_000_000;
const FACTS: SubscriptionFacts = {
  currentPeriodEnd: T + 30 * 86_400,
  priceId: 'price_pro',
  planSlug: 'pro',
  period: 'monthly',
  cancelAt: null,
  trialEnd: null,
};
const ids = { subscriptionId: 'sub_1', customerId: 'cus_1', userId: 1 };

const snapshot = (status: string, from: ChangedFrom = {}, facts: Partial<SubscriptionFacts> = {}): Snapshot => ({
  kind: 'snapshot',
  status,
  facts: { ...FACTS, ...facts },
  from,
});
const hint = (kind: Hint['hint'], extra: Partial<Hint> = {}): Hint => ({
  kind: 'hint',
  hint: kind,
  plan: {},
  firstInvoice: false,
  ...extra,
});

/** A row as the given inputs leave it, applied in that order. */
function row(...steps: Array<[Snapshot | Hint, number]>): SubscriptionState {
  let state: SubscriptionState | undefined;
  for (const [input, at] of steps) state = applyInput(state, input, at, ids).state;
  return state as SubscriptionState;
}

describe('snapshots', () => {
  it.each([
    [
      'a newer snapshot sets status and facts',
      row([snapshot('active'), T]),
      snapshot('past_due', {}, { currentPeriodEnd: T + 99 }),
      T + 10,
      'applied',
      'past_due',
      T + 99,
    ],
    [
      'an older snapshot is stale and changes nothing known',
      row([snapshot('past_due'), T + 10]),
      snapshot('active', {}, { currentPeriodEnd: T + 99 }),
      T,
      'stale',
      'past_due',
      FACTS.currentPeriodEnd,
    ],
    [
      'same second: the update that says it changed from the stored status is later',
      row([snapshot('active', { status: 'incomplete' }), T]),
      snapshot('incomplete'),
      T,
      'stale',
      'active',
      FACTS.currentPeriodEnd,
    ],
    [
      'same second, delivered the other way round',
      row([snapshot('incomplete'), T]),
      snapshot('active', { status: 'incomplete' }),
      T,
      'applied',
      'active',
      FACTS.currentPeriodEnd,
    ],
    [
      'same second: the stored one says it changed from the incoming status (resumed after paused)',
      row([snapshot('active', { status: 'paused' }), T]),
      snapshot('paused', { status: 'trialing' }),
      T,
      'stale',
      'active',
      FACTS.currentPeriodEnd,
    ],
    [
      'same second, nothing said: further along the lifecycle wins',
      row([snapshot('active'), T]),
      snapshot('canceled'),
      T,
      'applied',
      'canceled',
      FACTS.currentPeriodEnd,
    ],
    [
      'same second and status: the one that changed a fact from the stored value is later',
      row([snapshot('active'), T]),
      snapshot('active', { cancelAt: null }, { cancelAt: T + 5 }),
      T,
      'applied',
      'active',
      FACTS.currentPeriodEnd,
    ],
    [
      'terminal: nothing moves a canceled subscription',
      row([snapshot('canceled'), T]),
      snapshot('active'),
      T + 60,
      'ignored',
      'canceled',
      FACTS.currentPeriodEnd,
    ],
  ] as const)('%s', (_name, stored, input, at, outcome, status, periodEnd) => {
    const step = applyInput(stored, input, at, ids);
    expect(step.outcome).toBe(outcome);
    expect(step.state.status).toBe(status);
    expect(step.state.facts.currentPeriodEnd).toBe(periodEnd);
  });

  it('the first snapshot replaces a provisional status, whatever its time', () => {
    const provisional = row([hint('payment_failed'), T + 100]);
    expect(provisional).toMatchObject({ status: 'past_due', snapshotAt: null });
    const step = applyInput(provisional, snapshot('trialing'), T, ids);
    expect(step).toMatchObject({ outcome: 'applied', state: { status: 'trialing', statusAt: T, snapshotAt: T, facts: FACTS } });
  });

  it('a newer snapshot sets the facts but not a status a newer hint set since', () => {
    const stored = row([snapshot('active'), T], [hint('payment_failed'), T + 20]);
    const step = applyInput(stored, snapshot('active', {}, { currentPeriodEnd: T + 99 }), T + 10, ids);
    expect(step).toMatchObject({ outcome: 'applied', state: { status: 'past_due', facts: { currentPeriodEnd: T + 99 } } });
  });

  it.each<[string, Partial<SubscriptionFacts>, Partial<SubscriptionFacts>]>([
    [
      'a null period end is filled, nothing else',
      { currentPeriodEnd: null, priceId: null, planSlug: 'unknown' },
      { currentPeriodEnd: FACTS.currentPeriodEnd, priceId: null, planSlug: 'unknown' },
    ],
    ['a plan unknown because the newest price names none stays unknown', { priceId: 'price_custom', planSlug: 'unknown' }, {}],
    [
      'a row without a price (kept from before prices were stored) keeps its plan and period',
      { priceId: null, planSlug: 'business', period: 'yearly' },
      {},
    ],
    ['a known period end stays', { currentPeriodEnd: T + 5 }, {}],
  ])('a stale snapshot may only fill a null period end: %s', (_name, stored, filled) => {
    const before = row([snapshot('active', {}, stored), T + 10]);
    const step = applyInput(before, snapshot('incomplete', {}, { cancelAt: T + 3, trialEnd: T + 4 }), T, ids);
    expect(step.outcome).toBe('stale');
    expect(step.state).toEqual({ ...before, facts: { ...before.facts, ...filled } });
  });

  it('a companion snapshot of the same content keeps what its twin said it changed from', () => {
    const stored = row([snapshot('active', { status: 'paused' }), T]);
    const twin = applyInput(stored, snapshot('active'), T, ids).state;
    expect(twin.snapshotFrom).toEqual({ status: 'paused' });
    expect(applyInput(twin, snapshot('paused', { status: 'trialing' }), T, ids).outcome).toBe('stale');
  });
});

describe('hints', () => {
  it.each([
    ['payment failed: active → past_due', row([snapshot('active'), T]), hint('payment_failed'), T + 1, 'applied', 'past_due'],
    ['payment failed: trialing → past_due', row([snapshot('trialing'), T]), hint('payment_failed'), T + 1, 'applied', 'past_due'],
    [
      'payment failed on the first invoice: Stripe keeps it incomplete',
      row([snapshot('incomplete'), T]),
      hint('payment_failed', { firstInvoice: true }),
      T + 1,
      'applied',
      'incomplete',
    ],
    [
      'payment failed on the first invoice of an active row changes nothing',
      row([snapshot('active'), T]),
      hint('payment_failed', { firstInvoice: true }),
      T + 1,
      'applied',
      'active',
    ],
    ['payment failed leaves unpaid as it is', row([snapshot('unpaid'), T]), hint('payment_failed'), T + 1, 'applied', 'unpaid'],
    ['an older failure than the status is stale', row([snapshot('active'), T + 10]), hint('payment_failed'), T, 'stale', 'active'],
    ['paid: past_due → active', row([snapshot('past_due'), T]), hint('paid'), T + 1, 'applied', 'active'],
    ['paid leaves trialing alone', row([snapshot('trialing'), T]), hint('paid'), T + 1, 'applied', 'trialing'],
    [
      'paid in the second of a past_due update is the later (it changes from past_due)',
      row([snapshot('past_due'), T]),
      hint('paid'),
      T,
      'applied',
      'active',
    ],
    [
      'a failure in the second of an update that recovered from past_due is the earlier',
      row([snapshot('active', { status: 'past_due' }), T]),
      hint('payment_failed'),
      T,
      'stale',
      'active',
    ],
    ['checkout after the first snapshot sets no status', row([snapshot('trialing'), T]), hint('checkout'), T + 1, 'applied', 'trialing'],
    ['a hint on a terminal subscription is ignored', row([snapshot('canceled'), T]), hint('payment_failed'), T + 1, 'ignored', 'canceled'],
  ] as const)('%s', (_name, stored, input, at, outcome, status) => {
    const step = applyInput(stored, input, at, ids);
    expect(step.outcome).toBe(outcome);
    expect(step.state.status).toBe(status);
    expect(step.state.facts).toEqual(stored.facts);
  });

  it('a hint that changes nothing sets nothing, not even the time of the status', () => {
    const stored = row([snapshot('active'), T]);
    const step = applyInput(stored, hint('paid'), T + 50, ids);
    expect(step.state).toEqual({ ...stored, lastEventAt: T + 50 });
  });

  it.each([
    [hint('checkout', { plan: { planSlug: 'business', period: 'yearly' } }), 'active', 'business', 'yearly'],
    [hint('paid'), 'active', 'unknown', 'monthly'],
    [hint('payment_failed'), 'past_due', 'unknown', 'monthly'],
    [hint('payment_failed', { firstInvoice: true }), 'incomplete', 'unknown', 'monthly'],
  ] as const)('a row a hint creates is provisional: %o → %s', (input, status, planSlug, period) => {
    const step = applyInput(undefined, input, T, ids);
    expect(step.state).toMatchObject({ status, snapshotAt: null, facts: { planSlug, period, priceId: null, currentPeriodEnd: null } });
  });

  it('checkout metadata names the plan only while no price is known', () => {
    const checkout = hint('checkout', { plan: { planSlug: 'business', period: 'yearly' } });
    expect(applyInput(row([hint('paid'), T]), checkout, T + 1, ids).state.facts).toMatchObject({ planSlug: 'business', period: 'yearly' });
    expect(applyInput(row([snapshot('active'), T]), checkout, T + 1, ids).state.facts).toEqual(FACTS);
  });
});
