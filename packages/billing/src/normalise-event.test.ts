import { describe, expect, it } from 'vitest';
import { checkoutSessionObject, event, invoiceObject, subscriptionObject, billingMetadata as md } from '@billing/stripe-simulator/events';
import { defaultBillingConfig, type BillingConfig } from './config';
import { InvalidEventError } from './invalid-event-error';
import { billingMetadata, normaliseEmails } from './metadata';
import { invoiceSubscription, normaliseEvent } from './normalise-event';
import { subscriptionPlan } from './plan';
import { subscriptionPeriodEnd, subscriptionSnapshot } from './subscription-snapshot';

const END = 1_800_000_000;
const config: BillingConfig = { ...defaultBillingConfig, planPrices: new Map([['price_mapped', 'business']]) };

describe('subscriptionPeriodEnd: both API shapes', () => {
  it.each([
    [
      'legacy: top-level current_period_end',
      subscriptionObject({ id: 'sub_1', customer: 'cus_1', currentPeriodEnd: END, shape: 'legacy' }),
      END,
    ],
    ['basil: on the item', subscriptionObject({ id: 'sub_1', customer: 'cus_1', currentPeriodEnd: END, shape: 'basil' }), END],
    [
      'basil: the latest of several items',
      {
        object: 'subscription',
        items: { data: [{ current_period_end: END - 10 }, { current_period_end: END }, { current_period_end: END - 5 }] },
      },
      END,
    ],
    ['neither', { object: 'subscription', items: { data: [{}] } }, null],
    ['garbage value', { object: 'subscription', current_period_end: 'soon' }, null],
  ])('%s', (_name, subscription, expected) => {
    expect(subscriptionPeriodEnd(subscription as Record<string, unknown>)).toBe(expected);
  });
});

describe('invoiceSubscription: both API shapes', () => {
  it.each([
    [
      'legacy invoice.subscription',
      invoiceObject({ subscription: 'sub_L', customer: 'cus_1', shape: 'legacy', metadata: { a: '1' } }),
      'sub_L',
      { a: '1' },
    ],
    [
      'basil parent.subscription_details',
      invoiceObject({ subscription: 'sub_B', customer: 'cus_1', shape: 'basil', metadata: { b: '2' } }),
      'sub_B',
      { b: '2' },
    ],
    ['expanded legacy subscription object', { object: 'invoice', subscription: { id: 'sub_X', object: 'subscription' } }, 'sub_X', {}],
    ['one-off invoice (no subscription)', { object: 'invoice', parent: null, subscription: null }, null, {}],
  ])('%s', (_name, invoice, subscriptionId, metadata) => {
    expect(invoiceSubscription(invoice as Record<string, unknown>)).toEqual({ subscriptionId, metadata });
  });
});

describe('plan and period follow the price', () => {
  const price = (fields: Record<string, unknown>) => ({
    id: 'price_x',
    object: 'price',
    lookup_key: null,
    metadata: {},
    recurring: { interval: 'month' },
    ...fields,
  });
  const subscription = (prices: unknown[], metadata: Record<string, string> = {}) => ({
    object: 'subscription',
    metadata,
    items: { data: prices.map((p) => ({ price: p })) },
  });
  it.each([
    [
      'PLAN_PRICES first',
      subscription([price({ id: 'price_mapped', metadata: { dictia_plan_slug: 'pro' } })]),
      { priceId: 'price_mapped', planSlug: 'business', period: 'monthly' },
    ],
    [
      'then the price metadata',
      subscription([price({ metadata: { dictia_plan_slug: 'Pro' } })], md({ planSlug: 'starter' })),
      { priceId: 'price_x', planSlug: 'pro', period: 'monthly' },
    ],
    [
      'then a lookup key that is a catalog slug',
      subscription([price({ lookup_key: 'starter', recurring: { interval: 'year' } })]),
      { priceId: 'price_x', planSlug: 'starter', period: 'yearly' },
    ],
    [
      'a lookup key that is not a slug says nothing: the subscription metadata',
      subscription([price({ lookup_key: 'pro_yearly' })], md({ planSlug: 'pro' })),
      { priceId: 'price_x', planSlug: 'pro', period: 'monthly' },
    ],
    [
      'price metadata outside the catalog → unknown',
      subscription([price({ metadata: { dictia_plan_slug: 'platinum' } })], md({ planSlug: 'pro' })),
      { priceId: 'price_x', planSlug: 'unknown', period: 'monthly' },
    ],
    [
      'the price says nothing and no metadata → unknown',
      subscription([price({})]),
      { priceId: 'price_x', planSlug: 'unknown', period: 'monthly' },
    ],
    [
      'a base plan beside an add-on',
      subscription([price({ id: 'price_addon' }), price({ id: 'price_base', lookup_key: 'business', recurring: { interval: 'year' } })]),
      { priceId: 'price_base', planSlug: 'business', period: 'yearly' },
    ],
    [
      'no price at all: the metadata names plan and period',
      subscription([], md({ planSlug: 'pro', period: 'yearly' })),
      { priceId: null, planSlug: 'pro', period: 'yearly' },
    ],
  ])('%s', (_name, object, expected) => {
    expect(subscriptionPlan(object as Record<string, unknown>, config)).toEqual(expected);
  });
});

describe('snapshots: what previous_attributes say changed', () => {
  const object = subscriptionObject({ id: 'sub_1', customer: 'cus_1', status: 'active', currentPeriodEnd: END });
  it('status and period, from the top-level keys that changed (basil: the whole items list)', () => {
    const previousItems = structuredClone(object.items) as { data: Array<Record<string, unknown>> };
    previousItems.data[0]!.current_period_end = END - 100;
    const s = subscriptionSnapshot(object, { status: 'trialing', items: previousItems }, config, 'active');
    expect(s.from).toEqual({ status: 'trialing', currentPeriodEnd: END - 100 });
  });
  it('a scheduled cancellation: cancel_at, else the period end while cancel_at_period_end', () => {
    expect(
      subscriptionSnapshot({ ...object, cancel_at_period_end: true }, { cancel_at_period_end: false }, config, 'active'),
    ).toMatchObject({ facts: { cancelAt: END }, from: { cancelAt: null } });
    expect(subscriptionSnapshot({ ...object, cancel_at: END - 7 }, {}, config, 'active').facts.cancelAt).toBe(END - 7);
  });
  it('an update naming only keys we do not track says nothing changed', () => {
    expect(subscriptionSnapshot(object, { metadata: {}, latest_invoice: 'in_old' }, config, 'active').from).toEqual({});
  });
});

describe('normaliseEvent', () => {
  it.each([
    'customer.subscription.created',
    'customer.subscription.updated',
    'customer.subscription.paused',
    'customer.subscription.resumed',
    'customer.subscription.trial_will_end',
    'customer.subscription.pending_update_applied',
    'customer.subscription.pending_update_expired',
  ])('%s is a snapshot', (type) => {
    expect(normaliseEvent(event(type, subscriptionObject({ id: 'sub_1', customer: 'cus_1', status: 'past_due' })), config)).toMatchObject({
      subscriptionId: 'sub_1',
      customerId: 'cus_1',
      input: { kind: 'snapshot', status: 'past_due' },
    });
  });
  it.each([
    ['active', 'canceled'],
    ['canceled', 'canceled'],
    ['incomplete_expired', 'incomplete_expired'],
  ])(
    'deleted of a subscription the object says is %s is a snapshot of %s (a terminal status as it is; any other forced)',
    (status, expected) => {
      expect(
        normaliseEvent(event('customer.subscription.deleted', subscriptionObject({ id: 'sub_1', customer: 'cus_1', status })), config),
      ).toMatchObject({ input: { status: expected } });
    },
  );
  it.each([
    ['invoice.payment_failed', 'subscription_cycle', { hint: 'payment_failed', firstInvoice: false }],
    ['invoice.payment_failed', 'subscription_create', { hint: 'payment_failed', firstInvoice: true }],
    ['invoice.paid', 'subscription_cycle', { hint: 'paid' }],
    ['invoice.payment_succeeded', 'subscription_create', { hint: 'paid' }],
  ])('%s (%s) is a hint', (type, billingReason, expected) => {
    const invoice = {
      ...invoiceObject({ subscription: 'sub_1', customer: 'cus_1', metadata: md({ userId: 7, planSlug: 'pro' }) }),
      billing_reason: billingReason,
    };
    expect(normaliseEvent(event(type, invoice), config)).toMatchObject({
      subscriptionId: 'sub_1',
      user: { customerId: 'cus_1', metadataUserId: 7 },
      input: { kind: 'hint', plan: { planSlug: 'pro' }, ...expected },
    });
  });
  it('checkout in subscription mode is a hint with the emails in order', () => {
    const session = checkoutSessionObject({
      subscription: 'sub_1',
      customer: 'cus_1',
      customerEmail: ' Ada@Example.com',
      detailsEmail: 'other@example.com',
      metadata: md({ planSlug: 'starter' }),
    });
    expect(normaliseEvent(event('checkout.session.completed', session), config)).toMatchObject({
      user: { emails: ['ada@example.com', 'other@example.com'] },
      input: { hint: 'checkout', plan: { planSlug: 'starter' } },
    });
  });
  it.each([
    [
      'checkout in payment mode',
      event('checkout.session.completed', checkoutSessionObject({ customer: 'cus_1', mode: 'payment' })),
      'checkout in payment mode',
    ],
    [
      'a one-off invoice',
      event('invoice.paid', { id: 'in_1', object: 'invoice', customer: 'cus_1', parent: null }),
      'invoice without a subscription',
    ],
    ['an unhandled type', event('customer.created', { id: 'cus_1', object: 'customer' }), 'no handler for customer.created'],
  ])('%s is ignored', (_name, e, reason) => {
    expect(normaliseEvent(e, config)).toMatchObject({ ignored: reason });
  });
  it.each([
    [
      'a subscription event whose object is an invoice',
      event('customer.subscription.updated', { id: 'in_1', object: 'invoice' }),
      'customer.subscription.updated: data.object is a invoice, expected subscription',
    ],
    [
      'a subscription without an id',
      event('customer.subscription.updated', { object: 'subscription', status: 'active' }),
      'customer.subscription.updated: the subscription has no id',
    ],
    [
      'a subscription without a status',
      event('customer.subscription.updated', { id: 'sub_1', object: 'subscription' }),
      'customer.subscription.updated: the subscription has no status',
    ],
    [
      'checkout without its subscription',
      event('checkout.session.completed', checkoutSessionObject({ subscription: null, customer: 'cus_1' })),
      'checkout.session.completed: subscription-mode checkout without a subscription id',
    ],
  ])('%s is invalid, with a readable reason', (_name, e, reason) => {
    expect(() => normaliseEvent(e, config)).toThrow(new InvalidEventError(reason));
  });
});

describe('metadata', () => {
  it.each([
    [
      'catalog plan and period',
      { dictia_plan_slug: 'pro', dictia_period: 'yearly', dictia_user_id: '42' },
      { userId: 42, planSlug: 'pro', period: 'yearly' },
    ],
    [
      'plan not in catalog → unknown; bad period → monthly',
      { dictia_plan_slug: 'enterprise', dictia_period: 'weekly' },
      { userId: null, planSlug: 'unknown', period: 'monthly' },
    ],
    ['no keys: nothing said', { other: 'x' }, { userId: null, planSlug: undefined, period: undefined }],
    [
      'a user id that is not a number is ignored',
      { dictia_user_id: '42; drop table users' },
      { userId: null, planSlug: undefined, period: undefined },
    ],
  ])('%s', (_name, metadata, expected) => {
    expect(billingMetadata(metadata, config)).toEqual(expected);
  });
  it('emails: lower-cased, trimmed, no blanks or repeats, in order', () => {
    expect(normaliseEmails('  Ada@Example.COM ', null, 'ada@example.com', 'bob@example.com', '', 'not-an-email')).toEqual([
      'ada@example.com',
      'bob@example.com',
    ]);
  });
});

describe('values outside what the columns hold make an invalid event (issue 19, item 8)', () => {
  const sub = (fields: Record<string, unknown> = {}, shape: 'legacy' | 'basil' = 'basil') => ({
    ...subscriptionObject({ id: 'sub_1', customer: 'cus_1', currentPeriodEnd: END, shape }),
    ...fields,
  });
  const long = (prefix: string, length: number) => `${prefix}${'x'.repeat(length - prefix.length)}`;
  const withPrice = (id: string) => {
    const object = sub();
    const items = object.items as { data: Array<Record<string, unknown>> };
    items.data[0] = { ...items.data[0], price: { ...(items.data[0]!.price as object), id } };
    return object;
  };

  it.each<[string, () => Record<string, unknown>, RegExp]>([
    ['created: 1e20', () => ({ ...event('customer.subscription.updated', sub()), created: 1e20 }), /created/],
    ['created: -1e20', () => ({ ...event('customer.subscription.updated', sub()), created: -1e20 }), /created/],
    [
      'current_period_end: 1e15 (legacy, top level)',
      () => event('customer.subscription.updated', sub({ current_period_end: 1e15 }, 'legacy')),
      /current_period_end/,
    ],
    [
      'current_period_end: 1e15 (basil, on an item)',
      () => {
        const object = sub();
        (object.items as { data: Array<Record<string, unknown>> }).data[0]!.current_period_end = 1e15;
        return event('customer.subscription.updated', object);
      },
      /current_period_end/,
    ],
    ['cancel_at: 1e15', () => event('customer.subscription.updated', sub({ cancel_at: 1e15 })), /cancel_at/],
    ['trial_end: 1e15', () => event('customer.subscription.updated', sub({ trial_end: 1e15 })), /trial_end/],
    [
      'previous_attributes.current_period_end: 1e15',
      () => ({
        ...event('customer.subscription.updated', sub({}, 'legacy')),
        data: { object: sub({}, 'legacy'), previous_attributes: { current_period_end: 1e15 } },
      }),
      /current_period_end/,
    ],
    [
      'a subscription id of 256 characters',
      () => event('customer.subscription.updated', sub({ id: long('sub_', 256) })),
      /subscription id/,
    ],
    ['a customer id of 256 characters', () => event('customer.subscription.updated', sub({ customer: long('cus_', 256) })), /customer id/],
    ['a price id of 256 characters', () => event('customer.subscription.updated', withPrice(long('price_', 256))), /price id/],
    ['a status of 256 characters', () => event('customer.subscription.updated', sub({ status: long('active', 256) })), /status/],
    ['a NUL in the subscription id', () => event('customer.subscription.updated', sub({ id: 'sub_\u0000' })), /subscription id/],
    [
      'an invoice of a subscription id of 256 characters',
      () => event('invoice.paid', invoiceObject({ subscription: long('sub_', 256), customer: 'cus_1' })),
      /subscription id/,
    ],
    [
      'an event nobody handles whose customer id has 300 characters',
      () => event('customer.updated', { id: long('cus_', 300), object: 'customer', customer: long('cus_', 300) }),
      /customer id/,
    ],
    ['an event type of 256 characters', () => event(long('customer.', 256), { id: 'cus_1', object: 'customer' }), /type/],
  ])('%s', (_name, build, reason) => {
    const e = build() as unknown as Parameters<typeof normaliseEvent>[0];
    expect(() => normaliseEvent(e, config)).toThrow(InvalidEventError);
    expect(() => normaliseEvent(e, config)).toThrow(reason);
  });

  it('the largest values the columns hold pass', () => {
    const last = 253_402_300_799; // 9999-12-31T23:59:59Z
    const e = {
      ...event('customer.subscription.updated', {
        ...withPrice(long('price_', 255)),
        id: long('sub_', 255),
        customer: long('cus_', 255),
        cancel_at: last,
        trial_end: last,
      }),
      created: last,
    };
    expect(normaliseEvent(e, config)).toMatchObject({
      created: last,
      subscriptionId: long('sub_', 255),
      customerId: long('cus_', 255),
      input: { facts: { cancelAt: last, trialEnd: last, priceId: long('price_', 255) } },
    });
  });

  it.each([
    ['2147483647', 2_147_483_647],
    ['1000000000', 1_000_000_000],
    ['2147483648', null],
    ['99999999999999999999', null],
  ])('a metadata user id %s: a users.id names a user; a number no users.id can hold names nobody', (raw, expected) => {
    expect(billingMetadata({ dictia_user_id: raw }, config).userId).toBe(expected);
  });

  it('an email longer than an address can be is no candidate (it finds nobody; the event stays valid)', () => {
    expect(normaliseEmails(`${'a'.repeat(250)}@example.com`, 'ada@example.com')).toEqual(['ada@example.com']);
  });
});

describe('entitlements.active_entitlement_summary.updated', () => {
  const type = 'entitlements.active_entitlement_summary.updated';
  const entitlement = (key: unknown) => ({ id: 'ent_1', object: 'entitlements.active_entitlement', feature: 'feat_1', lookup_key: key });
  const summary = (entitlements: unknown, customer: unknown = 'cus_1') =>
    event(
      type,
      { object: 'entitlements.active_entitlement_summary', customer, entitlements, livemode: false },
      { id: 'evt_s', created: END },
    );

  it('a customer’s lookup keys, sorted, without repeats, and whether the list goes on', () => {
    const list = { object: 'list', data: [entitlement('seats'), entitlement('export'), entitlement('seats')], has_more: true };
    expect(normaliseEvent(summary(list), config)).toEqual({
      id: 'evt_s',
      type,
      created: END,
      subscriptionId: null,
      customerId: 'cus_1',
      lookupKeys: ['export', 'seats'],
      hasMore: true,
      apiVersion: summary(list).api_version,
    });
  });

  it('keeps the API version the event was rendered in, for the ledger', () => {
    const e = summary({ data: [] });
    expect(normaliseEvent({ ...e, api_version: '2024-06-20' }, config).apiVersion).toBe('2024-06-20');
    expect(normaliseEvent({ ...e, api_version: null }, config).apiVersion).toBeNull();
  });

  it.each([
    ['no customer', summary({ data: [] }, null), `${type}: the summary names no customer`],
    ['no list', summary(undefined), `${type}: the summary has no entitlements list`],
    ['an entitlement without lookup_key', summary({ data: [entitlement(null)] }), `${type}: an entitlement has no lookup_key`],
    [
      'another object',
      event(type, { object: 'customer', id: 'cus_1' }),
      `${type}: data.object is not an entitlements.active_entitlement_summary`,
    ],
  ])('%s: invalid', (_name, e, reason) => {
    expect(() => normaliseEvent(e, config)).toThrow(new InvalidEventError(reason));
  });

  it('a lookup key no column holds: invalid', () => {
    expect(() => normaliseEvent(summary({ data: [entitlement('x'.repeat(300))] }), config)).toThrow(InvalidEventError);
  });
});
