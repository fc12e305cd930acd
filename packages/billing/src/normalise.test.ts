import { describe, expect, it } from 'vitest';
import { invoiceObject, subscriptionObject } from '@billing/testing/stripe-events';
import { defaultBillingConfig } from './config';
import { decide, initialStatus } from './decide';
import { billingMetadata, invoiceSubscription, normaliseEmails, normalisePeriod, subscriptionPeriodEnd } from './normalise';

const END = 1_800_000_000;
const at = (seconds: number) => new Date(seconds * 1000);

describe('subscriptionPeriodEnd: both API shapes', () => {
  it.each([
    ['legacy: top-level current_period_end', subscriptionObject({ id: 'sub_1', customer: 'cus_1', currentPeriodEnd: END, shape: 'legacy' }), at(END)],
    ['basil: on the item', subscriptionObject({ id: 'sub_1', customer: 'cus_1', currentPeriodEnd: END, shape: 'basil' }), at(END)],
    [
      'basil: the latest of several items',
      { object: 'subscription', items: { data: [{ current_period_end: END - 10 }, { current_period_end: END }, { current_period_end: END - 5 }] } },
      at(END),
    ],
    ['neither', { object: 'subscription', items: { data: [{}] } }, undefined],
    ['no items at all', { object: 'subscription' }, undefined],
    ['garbage value', { object: 'subscription', current_period_end: 'soon' }, undefined],
  ])('%s', (_name, subscription, expected) => {
    expect(subscriptionPeriodEnd(subscription as Record<string, unknown>)).toEqual(expected);
  });
});

describe('invoiceSubscription: both API shapes', () => {
  it.each([
    ['legacy invoice.subscription', invoiceObject({ subscription: 'sub_L', customer: 'cus_1', shape: 'legacy', metadata: { a: '1' } }), 'sub_L', { a: '1' }],
    ['basil parent.subscription_details', invoiceObject({ subscription: 'sub_B', customer: 'cus_1', shape: 'basil', metadata: { b: '2' } }), 'sub_B', { b: '2' }],
    ['expanded legacy subscription object', { object: 'invoice', subscription: { id: 'sub_X', object: 'subscription' } }, 'sub_X', {}],
    ['one-off invoice (no subscription)', { object: 'invoice', parent: null, subscription: null }, null, {}],
  ])('%s', (_name, invoice, subscriptionId, metadata) => {
    expect(invoiceSubscription(invoice as Record<string, unknown>)).toEqual({ subscriptionId, metadata });
  });
});

describe('billingMetadata', () => {
  const config = defaultBillingConfig;
  it.each([
    ['catalog plan and period', { dictia_plan_slug: 'pro', dictia_period: 'yearly', dictia_user_id: '42' }, { userId: 42, planSlug: 'pro', period: 'yearly' }],
    ['plan not in catalog → unknown', { dictia_plan_slug: 'enterprise', dictia_period: 'monthly' }, { userId: null, planSlug: 'unknown', period: 'monthly' }],
    ['bad period → monthly', { dictia_plan_slug: 'starter', dictia_period: 'weekly' }, { userId: null, planSlug: 'starter', period: 'monthly' }],
    ['case and spaces are forgiven', { dictia_plan_slug: ' PRO ', dictia_period: 'Yearly' }, { userId: null, planSlug: 'pro', period: 'yearly' }],
    ['no metadata keys: nothing said', { other: 'x' }, { userId: null, planSlug: undefined, period: undefined }],
    ['non-numeric user id ignored', { dictia_user_id: '42; drop table users' }, { userId: null, planSlug: undefined, period: undefined }],
    ['another prefix is not read', { acme_plan_slug: 'pro' }, { userId: null, planSlug: undefined, period: undefined }],
  ])('%s', (_name, metadata, expected) => {
    expect(billingMetadata(metadata, config)).toEqual(expected);
  });

  it('honours a custom prefix and catalog', () => {
    expect(billingMetadata({ acme_plan_slug: 'gold' }, { planSlugs: ['gold'], metadataPrefix: 'acme_' }).planSlug).toBe('gold');
  });

  it.each([
    [undefined, 'year', 'yearly'],
    [undefined, 'month', 'monthly'],
    [undefined, undefined, 'monthly'],
    ['weekly', 'year', 'monthly'],
  ])('normalisePeriod(%s, %s) = %s', (period, interval, expected) => {
    expect(normalisePeriod(period, interval)).toBe(expected);
  });
});

describe('normaliseEmails', () => {
  it('lower-cases, trims, drops blanks and repeats, keeps order', () => {
    expect(normaliseEmails('  Ada@Example.COM ', null, 'ada@example.com', 'bob@example.com', '', 'not-an-email')).toEqual([
      'ada@example.com',
      'bob@example.com',
    ]);
  });
});

describe('decide: lifecycle rules', () => {
  const t = (s: number) => at(1_700_000_000 + s);
  it.each([
    ['newer event applies', { status: 'active', lastEventAt: t(10) }, { kind: 'set', status: 'past_due' }, t(11), { outcome: 'applied', status: 'past_due' }],
    ['same second applies (tie rule)', { status: 'active', lastEventAt: t(10) }, { kind: 'set', status: 'past_due' }, t(10), { outcome: 'applied', status: 'past_due' }],
    ['older event is stale', { status: 'active', lastEventAt: t(10) }, { kind: 'set', status: 'past_due' }, t(9), { outcome: 'stale', status: 'active' }],
    ['canceled is terminal', { status: 'canceled', lastEventAt: t(10) }, { kind: 'set', status: 'active' }, t(11), { outcome: 'ignored', status: 'canceled' }],
    ['canceled again is fine', { status: 'canceled', lastEventAt: t(10) }, { kind: 'set', status: 'canceled' }, t(11), { outcome: 'applied', status: 'canceled' }],
    ['recovery: past_due → active', { status: 'past_due', lastEventAt: t(10) }, { kind: 'recover' }, t(11), { outcome: 'applied', status: 'active' }],
    ['recovery leaves trialing alone', { status: 'trialing', lastEventAt: t(10) }, { kind: 'recover' }, t(11), { outcome: 'applied', status: 'trialing' }],
    ['recovery cannot revive canceled', { status: 'canceled', lastEventAt: t(10) }, { kind: 'recover' }, t(11), { outcome: 'applied', status: 'canceled' }],
    ['payment failed → past_due', { status: 'active', lastEventAt: null }, { kind: 'past_due' }, t(1), { outcome: 'applied', status: 'past_due' }],
    ['payment failed cannot leave canceled', { status: 'canceled', lastEventAt: t(1) }, { kind: 'past_due' }, t(2), { outcome: 'ignored', status: 'canceled' }],
  ] as const)('%s', (_name, current, rule, eventAt, expected) => {
    expect(decide(current, rule, eventAt)).toMatchObject(expected);
  });

  it.each([
    [{ kind: 'set', status: 'trialing' }, 'trialing'],
    [{ kind: 'recover' }, 'active'],
    [{ kind: 'past_due' }, 'past_due'],
  ] as const)('a new row for %o starts %s', (rule, expected) => {
    expect(initialStatus(rule)).toBe(expected);
  });
});
