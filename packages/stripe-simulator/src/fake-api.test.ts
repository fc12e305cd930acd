import { fc, test } from '@fast-check/vitest';
import { createStripeClient } from '@billing/runtime/stripe-client';
import type { StripeEvent } from '@billing/queue';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { subscriptionInShape } from './api-shape';
import { LIFECYCLE_CORPUS, PRICES, type BuiltHistory } from './corpus';
import { DAY, HOUR } from './corpus-builders';
import { activeEntitlementObject } from './entitlements';
import { event, invoiceObject, subscriptionObject } from './events';
import { startFakeStripeApi, type FakeStripeApi } from './fake-api';
import { SubscriptionHistory } from './history';
import { expectedFromSubscriptionObject, expectedSubscription } from './oracle';

/**
 * The fake Stripe API driven through the official SDK (`createStripeClient`, as the worker and the
 * scripts build it): Stripe's list and error shapes, the SDK's auto-pagination both ways, its
 * retries, and the truth it serves — Stripe's final object of every corpus history.
 */

const KEY = 'sk_test_fakeapi';
const NOW = Math.floor(Date.now() / 1000);

let api: FakeStripeApi;
let stripe: Stripe;

beforeAll(async () => {
  api = await startFakeStripeApi({ apiKeys: [KEY] });
  stripe = createStripeClient(KEY, { apiBase: api.url, maxNetworkRetries: 0 });
});
afterAll(async () => {
  await api?.close();
});
afterEach(() => {
  api.reset();
});

const client = (options: { maxNetworkRetries?: number; timeoutMs?: number; key?: string } = {}) =>
  createStripeClient(options.key ?? KEY, { apiBase: api.url, ...options });

/** `n` events, `perSecond` in each second, from `start` on, alternating types. */
function events(n: number, start: number, perSecond = 1): StripeEvent[] {
  return Array.from({ length: n }, (_, i) => {
    const created = start + Math.floor(i / perSecond);
    if (i % 3 === 0) return event('invoice.paid', invoiceObject({ subscription: `sub_${i}`, customer: `cus_${i}` }), { created });
    if (i % 3 === 1)
      return event('customer.subscription.updated', subscriptionObject({ id: `sub_${i}`, customer: `cus_${i}` }), { created });
    return event('charge.succeeded', { id: `ch_${i}`, object: 'charge' }, { created });
  });
}

/** Stripe's list order: newest first; within one second, the later-created first. */
const listOrder = (list: StripeEvent[]) =>
  list
    .map((e, i) => ({ e, i }))
    .sort((a, b) => b.e.created - a.e.created || b.i - a.i)
    .map(({ e }) => e.id);

/**
 * What the SDK returned, as JSON: stripe-node 23 turns `decimal_string` fields (a price's
 * `unit_amount_decimal`…) into `Stripe.Decimal` objects, which serialise back to the string.
 */
const json = (value: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(value)) as Record<string, unknown>;

async function caught(promise: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    return error as Stripe.errors.StripeError;
  }
  throw new Error('expected the call to fail');
}

async function rawGet(path: string, authorization: string | null = `Bearer ${KEY}`): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${api.url}${path}`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, body: await response.json() };
}

/** Every corpus history, built with tags of its own, its events ending a day ago. */
function corpus(): Array<{ name: string; built: BuiltHistory }> {
  return LIFECYCLE_CORPUS.map((c, i) => ({
    name: c.name,
    built: c.build({
      tag: `fk${i}x${NOW}`,
      start: NOW - 500 * DAY,
      user: { id: i + 1, email: `fake${i}@example.com` },
      shape: c.shape ?? 'basil',
    }),
  }));
}

describe('the truth: Stripe final object of every history', () => {
  it('each corpus subscription is retrieved as the oracle object, in the SDK pinned version, and in its own with a pinned request', async () => {
    const cases = corpus();
    for (const { built } of cases) api.loadHistory(built);
    let count = 0;
    for (const { name, built } of cases) {
      for (const history of built.subscriptions) {
        const served = json(await stripe.subscriptions.retrieve(history.ids.subscription));
        // The SDK asks in its pinned version (basil shape): a legacy history's object is rendered in it.
        expect(served, name).toEqual(subscriptionInShape(history.final, 'basil'));
        expect(expectedFromSubscriptionObject(served), name).toEqual(expectedSubscription(history));
        const inOwnVersion = await stripe.subscriptions.retrieve(
          history.ids.subscription,
          {},
          { apiVersion: history.events[0]!.api_version! },
        );
        expect(json(inOwnVersion), name).toEqual(history.final);
        count += 1;
      }
    }
    expect(count).toBe(LIFECYCLE_CORPUS.length + 1); // the resubscription has two
  });

  it('the list with status=all pages through every corpus subscription once, newest created first; the default leaves out canceled ones', async () => {
    const cases = corpus();
    for (const { built } of cases) api.loadHistory(built);
    const all = cases.flatMap(({ built }) => built.subscriptions);
    const listed: Stripe.Subscription[] = [];
    for await (const s of stripe.subscriptions.list({ status: 'all', limit: 3 })) listed.push(s);
    expect(listed.map((s) => s.id).sort()).toEqual(all.map((h) => h.ids.subscription).sort());
    const created = listed.map((s) => s.created);
    expect(created).toEqual([...created].sort((a, b) => b - a));
    for (const s of listed) {
      const history = all.find((h) => h.ids.subscription === s.id)!;
      expect(expectedFromSubscriptionObject(json(s))).toEqual(expectedSubscription(history));
    }
    expect(api.requestsTo('/v1/subscriptions')).toHaveLength(Math.ceil(all.length / 3));

    const byDefault = await stripe.subscriptions.list({ limit: 100 }).autoPagingToArray({ limit: 1000 });
    const notCanceled = all.filter((h) => h.finalModel.status !== 'canceled').map((h) => h.ids.subscription);
    expect(notCanceled.length).toBeLessThan(all.length);
    expect(byDefault.map((s) => s.id).sort()).toEqual(notCanceled.sort());
    const ended = await stripe.subscriptions.list({ status: 'ended', limit: 100 });
    expect(ended.data.map((s) => s.status).sort()).toEqual(
      all
        .map((h) => h.finalModel.status)
        .filter((s) => s === 'canceled' || s === 'incomplete_expired')
        .sort(),
    );
    expect(ended.data.some((s) => s.status === 'incomplete_expired')).toBe(true);
  });

  it('invoices and checkout sessions of the histories are served as their events last carried them, rendered in the request version', async () => {
    const cases = corpus();
    for (const { built } of cases) api.loadHistory(built);
    const legacy = cases.find(({ built }) => built.subscriptions[0]!.shape === 'legacy')!.built;
    const invoiceEvents = legacy.events.filter((e) => e.data.object.object === 'invoice');
    const lastInvoice = invoiceEvents.at(-1)!;
    const invoice = await stripe.invoices.retrieve(lastInvoice.data.object.id as string);
    // Rendered in the SDK's version: the subscription link moved under `parent`.
    expect(invoice.parent?.subscription_details?.subscription).toBe(legacy.subscriptions[0]!.ids.subscription);
    expect(invoice).not.toHaveProperty('subscription');
    expect(invoice.status).toBe(lastInvoice.data.object.status);
    const inOwnVersion = await stripe.invoices.retrieve(lastInvoice.data.object.id as string, {}, { apiVersion: '2024-06-20' });
    expect(json(inOwnVersion)).toEqual(
      [...invoiceEvents].reverse().find((e) => e.data.object.id === lastInvoice.data.object.id)!.data.object,
    );

    const checkout = cases[0]!.built.events.find((e) => e.type === 'checkout.session.completed')!;
    expect(json(await stripe.checkout.sessions.retrieve(checkout.data.object.id as string))).toEqual(checkout.data.object);
  });
});

describe('GET /v1/events', () => {
  it('pages newest first (later-created first within a second) with starting_after, and the log shows each page', async () => {
    const list = events(250, NOW - 3 * HOUR, 3);
    api.addEvents(list);
    const seen: string[] = [];
    for await (const e of stripe.events.list({ limit: 100 })) seen.push(e.id);
    expect(seen).toEqual(listOrder(list));
    const pages = api.requestsTo('/v1/events');
    expect(pages.map((r) => r.query.get('starting_after'))).toEqual([null, seen[99], seen[199]]);
    expect(pages.every((r) => r.query.get('limit') === '100' && r.method === 'GET' && r.status === 200)).toBe(true);
    expect(pages[0]!.time).toBeLessThanOrEqual(pages[2]!.time);
    expect(pages[0]!.apiKey).toBe(KEY);
  });

  it('pages towards newer events with ending_before (the SDK iterates them oldest first)', async () => {
    const list = events(40, NOW - HOUR, 4);
    api.addEvents(list);
    const order = listOrder(list); // newest first
    const cursor = order[30]!;
    const newer: string[] = [];
    for await (const e of stripe.events.list({ ending_before: cursor, limit: 7 })) newer.push(e.id);
    expect(newer).toEqual(order.slice(0, 30).reverse());
    const first = await stripe.events.list({ ending_before: cursor, limit: 7 });
    expect(first.data.map((e) => e.id)).toEqual(order.slice(23, 30));
    expect(first.has_more).toBe(true);
  });

  it('filters by type, types[] (as the SDK sends them), a type wildcard, created ranges and delivery_success', async () => {
    const list = events(30, NOW - 2 * HOUR, 2);
    api.addEvents(list);
    api.setDeliverySuccess(list[4]!.id, false);
    api.setDeliverySuccess(list[5]!.id, false);
    const ids = async (params: Stripe.EventListParams) =>
      (await stripe.events.list({ limit: 100, ...params }).autoPagingToArray({ limit: 1000 })).map((e) => e.id).sort();
    const want = (keep: (e: StripeEvent) => boolean) =>
      list
        .filter(keep)
        .map((e) => e.id)
        .sort();

    expect(await ids({ types: ['invoice.paid', 'charge.succeeded'] })).toEqual(want((e) => e.type !== 'customer.subscription.updated'));
    expect(api.requests.at(-1)!.query.get('types[0]')).toBe('invoice.paid');
    expect(await ids({ type: 'invoice.paid' })).toEqual(want((e) => e.type === 'invoice.paid'));
    expect(await ids({ type: 'customer.subscription.*' })).toEqual(want((e) => e.type.startsWith('customer.subscription.')));
    const middle = list[10]!.created;
    expect(await ids({ created: { gte: middle, lt: middle + 4 } })).toEqual(want((e) => e.created >= middle && e.created < middle + 4));
    expect(await ids({ created: { gt: middle, lte: middle + 1 } })).toEqual(want((e) => e.created === middle + 1));
    expect(await ids({ created: middle })).toEqual(want((e) => e.created === middle));
    expect(await ids({ delivery_success: false })).toEqual([list[4]!.id, list[5]!.id].sort());
    expect(await ids({ delivery_success: true })).toHaveLength(28);
  });

  it('lists and returns only the last 30 days of events, "now" injectable', async () => {
    const old = event('invoice.paid', invoiceObject({ subscription: 'sub_old', customer: 'cus_old' }), { created: NOW - 31 * DAY });
    const recent = event('invoice.paid', invoiceObject({ subscription: 'sub_new', customer: 'cus_new' }), { created: NOW - 29 * DAY });
    api.addEvents([old, recent]);
    expect((await stripe.events.list()).data.map((e) => e.id)).toEqual([recent.id]);
    expect((await caught(stripe.events.retrieve(old.id))).statusCode).toBe(404);
    expect((await stripe.events.retrieve(recent.id)).id).toBe(recent.id);
    api.setNow(NOW - 2 * DAY);
    expect((await stripe.events.list()).data.map((e) => e.id)).toEqual([recent.id, old.id]);
    api.setNow(NOW + 2 * DAY);
    expect((await stripe.events.list()).data).toEqual([]);
  });

  it('refuses what Stripe refuses: type with types, more than 20 types, an unknown parameter, a bad limit, an unknown cursor', async () => {
    api.addEvents(events(3, NOW - 60));
    const cases: Array<[Stripe.EventListParams, string, string]> = [
      [{ type: 'invoice.paid', types: ['invoice.paid'] }, 'types', 'parameter_invalid'],
      [{ types: Array.from({ length: 21 }, (_, i) => `type.${i}`) }, 'types', 'parameter_invalid'],
      [{ limit: 101 }, 'limit', 'parameter_invalid_integer'],
      [{ limit: 0 }, 'limit', 'parameter_invalid_integer'],
      [{ starting_after: 'evt_nope' }, 'starting_after', 'resource_missing'],
      [{ colour: 'blue' } as Stripe.EventListParams, 'colour', 'parameter_unknown'],
      [{ expand: ['data.request'] }, 'expand', 'parameter_invalid'],
    ];
    for (const [params, param, code] of cases) {
      const error = await caught(stripe.events.list(params));
      expect(error, JSON.stringify(params)).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
      expect({ status: error.statusCode, param: error.param, code: error.code }).toEqual({
        status: code === 'resource_missing' ? 404 : 400,
        param,
        code,
      });
    }
    expect((await stripe.events.list({ types: Array.from({ length: 20 }, (_, i) => `type.${i}`) })).data).toEqual([]);
  });
});

describe('GET /v1/subscriptions', () => {
  function seedSubscriptions(): SubscriptionHistory[] {
    const statuses = ['active', 'canceled', 'past_due', 'trialing', 'incomplete_expired', 'active', 'unpaid', 'canceled'];
    return statuses.map((status, i) => {
      const h = new SubscriptionHistory({ subscription: `sub_list${i}`, customer: `cus_list${i % 3}`, tag: `list${i}` });
      h.create(NOW - 10 * DAY + Math.floor(i / 2), { status: 'incomplete', price: i % 2 ? PRICES.proMonthly : PRICES.starterMonthly });
      if (status === 'canceled') h.delete(NOW - DAY);
      else h.update(NOW - DAY, { status });
      api.loadHistory(h);
      return h;
    });
  }

  it('filters by status, customer, price and created, newest created first (later-known first within a second)', async () => {
    const histories = seedSubscriptions();
    const ids = async (params: Stripe.SubscriptionListParams) =>
      (await stripe.subscriptions.list({ limit: 2, ...params }).autoPagingToArray({ limit: 100 })).map((s) => s.id);
    expect(await ids({ status: 'all' })).toEqual(histories.map((h) => h.ids.subscription).reverse());
    expect(await ids({ status: 'past_due' })).toEqual(['sub_list2']);
    expect(await ids({})).toEqual(['sub_list6', 'sub_list5', 'sub_list4', 'sub_list3', 'sub_list2', 'sub_list0']);
    expect(await ids({ status: 'canceled' })).toEqual(['sub_list7', 'sub_list1']);
    expect(await ids({ status: 'all', customer: 'cus_list1' })).toEqual(['sub_list7', 'sub_list4', 'sub_list1']);
    expect(await ids({ status: 'all', price: PRICES.proMonthly.id })).toEqual(['sub_list7', 'sub_list5', 'sub_list3', 'sub_list1']);
    const created = histories[4]!.finalModel.created;
    expect(await ids({ status: 'all', created: { gte: created } })).toEqual(['sub_list7', 'sub_list6', 'sub_list5', 'sub_list4']);
    expect(await ids({ status: 'all', created: { lt: created } })).toEqual(['sub_list3', 'sub_list2', 'sub_list1', 'sub_list0']);
    const error = await caught(stripe.subscriptions.list({ status: 'sleeping' as 'active' }));
    expect({ status: error.statusCode, param: error.param }).toEqual({ status: 400, param: 'status' });
  });

  it('404 for an unknown subscription, in Stripe error shape', async () => {
    const error = await caught(stripe.subscriptions.retrieve('sub_nope'));
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect({ status: error.statusCode, code: error.code, param: error.param, message: error.message }).toEqual({
      status: 404,
      code: 'resource_missing',
      param: 'id',
      message: "No such subscription: 'sub_nope'",
    });
    const raw = await rawGet('/v1/subscriptions/sub_nope');
    expect(raw).toEqual({
      status: 404,
      body: {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
          message: "No such subscription: 'sub_nope'",
          param: 'id',
        },
      },
    });
    for (const path of ['/v1/invoices/in_nope', '/v1/checkout/sessions/cs_nope', '/v1/events/evt_nope']) {
      expect((await rawGet(path)).status, path).toBe(404);
    }
    expect((await rawGet('/v1/customers/cus_1')).status).toBe(404);
  });

  it('serves a subscription as of a time, and drift seeded on purpose: updated, deleted, added behind the events', async () => {
    const h = new SubscriptionHistory({ subscription: 'sub_asof', customer: 'cus_asof', tag: 'asof' });
    const t = NOW - 20 * DAY;
    h.create(t, { status: 'active', price: PRICES.proMonthly })
      .update(t + DAY, { status: 'past_due' })
      .update(t + 2 * DAY, { status: 'active' })
      .update(t + 3 * DAY, { cancelAtPeriodEnd: true, cancelAt: t + 30 * DAY, canceledAt: t + 3 * DAY });
    api.loadHistory(h);
    const status = async () => (await stripe.subscriptions.retrieve('sub_asof')).status;
    expect(json(await stripe.subscriptions.retrieve('sub_asof'))).toEqual(h.final);

    api.setAsOf(t + DAY + 3600);
    expect(await status()).toBe('past_due');
    expect((await stripe.events.list({ limit: 100 })).data.map((e) => e.id)).toEqual(
      h.events
        .slice(0, 2)
        .map((e) => e.id)
        .reverse(),
    );
    api.setAsOf(t - 1);
    expect((await caught(stripe.subscriptions.retrieve('sub_asof'))).statusCode).toBe(404);
    expect((await stripe.subscriptions.list({ status: 'all' })).data).toEqual([]);
    api.setAsOf(undefined);
    expect((await stripe.subscriptions.retrieve('sub_asof')).cancel_at_period_end).toBe(true);

    api.updateSubscription('sub_asof', { status: 'unpaid' });
    expect(await status()).toBe('unpaid');
    expect((await stripe.subscriptions.list({ status: 'unpaid' })).data.map((s) => s.id)).toEqual(['sub_asof']);
    api.setSubscription(subscriptionObject({ id: 'sub_only_at_stripe', customer: 'cus_asof' }));
    expect((await stripe.subscriptions.list({ customer: 'cus_asof' })).data.map((s) => s.id).sort()).toEqual([
      'sub_asof',
      'sub_only_at_stripe',
    ]);
    api.deleteSubscription('sub_asof');
    expect((await caught(stripe.subscriptions.retrieve('sub_asof'))).statusCode).toBe(404);
    expect((await stripe.subscriptions.list({ status: 'all' })).data.map((s) => s.id)).toEqual(['sub_only_at_stripe']);
  });
});

describe('GET /v1/entitlements/active_entitlements', () => {
  it('pages a customer active entitlements in the order set, has_more until the last', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `feature_${String(i).padStart(2, '0')}`);
    api.setEntitlements('cus_ent', keys);
    api.setEntitlements('cus_other', ['other']);
    const listed: string[] = [];
    for await (const e of stripe.entitlements.activeEntitlements.list({ customer: 'cus_ent', limit: 10 })) listed.push(e.lookup_key);
    expect(listed).toEqual(keys);
    const pages = api.requestsTo('/v1/entitlements/active_entitlements');
    expect(pages.map((r) => r.query.get('customer'))).toEqual(['cus_ent', 'cus_ent', 'cus_ent']);
    const first = await stripe.entitlements.activeEntitlements.list({ customer: 'cus_ent', limit: 10 });
    expect({ has_more: first.has_more, n: first.data.length, object: first.object }).toEqual({ has_more: true, n: 10, object: 'list' });
    expect(first.data[0]).toEqual(activeEntitlementObject('cus_ent', 'feature_00'));
    expect(await stripe.entitlements.activeEntitlements.retrieve(first.data[3]!.id)).toEqual(first.data[3]);
    expect((await stripe.entitlements.activeEntitlements.list({ customer: 'cus_none' })).data).toEqual([]);
    const missing = await rawGet('/v1/entitlements/active_entitlements');
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ error: { param: 'customer', code: 'parameter_missing' } });
  });
});

describe('authorization', () => {
  it('401 in Stripe shape for a wrong key or none; a configured key passes', async () => {
    api.addEvents(events(1, NOW - 60));
    const wrong = await caught(client({ key: 'sk_test_wrong_key' }).events.list());
    expect(wrong).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.message).toBe('Invalid API Key provided: sk_test_*****_key');
    const none = await rawGet('/v1/events', null);
    expect(none.status).toBe(401);
    expect(none.body).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.stringMatching(/^You did not provide an API key/) },
    });
    const basic = await rawGet('/v1/events', `Basic ${Buffer.from(`${KEY}:`).toString('base64')}`);
    expect(basic.status).toBe(200);
  });

  it('without configured keys, any sk_test_ or rk_test_ key passes and a live key does not', async () => {
    const open = await startFakeStripeApi();
    try {
      for (const key of ['sk_test_anything', 'rk_test_readonly']) {
        expect((await createStripeClient(key, { apiBase: open.url }).events.list()).object).toBe('list');
      }
      const live = await caught(createStripeClient('sk_live_abcd', { apiBase: open.url, maxNetworkRetries: 0 }).events.list());
      expect(live.statusCode).toBe(401);
    } finally {
      await open.close();
    }
  });
});

describe('faults', () => {
  it('429 with Retry-After: the SDK does not retry it by itself (no Stripe-Should-Retry), the caller waits and succeeds', async () => {
    api.addEvents(events(2, NOW - 60));
    const rateLimit = api.faults.rateLimit({ count: 1, retryAfterSeconds: 1 });
    const sdk = client({ maxNetworkRetries: 3 });
    const error = await caught(sdk.events.list());
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError);
    expect({ status: error.statusCode, code: error.code, retryAfter: error.headers?.['retry-after'] }).toEqual({
      status: 429,
      code: 'rate_limit',
      retryAfter: '1',
    });
    expect(api.requests).toHaveLength(1);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, Number(error.headers!['retry-after']) * 1000));
    expect((await sdk.events.list()).data).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(api.requests.map((r) => [r.status, r.fault])).toEqual([
      [429, 'rate_limit'],
      [200, undefined],
    ]);
    expect(rateLimit.hits).toBe(1);
  });

  it('429 with Stripe-Should-Retry: true is retried by the SDK up to maxNetworkRetries, then succeeds', async () => {
    api.addEvents(events(1, NOW - 60));
    api.faults.rateLimit({ count: 2, shouldRetry: true, code: 'lock_timeout' });
    expect((await client({ maxNetworkRetries: 2 }).events.list()).data).toHaveLength(1);
    expect(api.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    api.requests.length = 0;
    api.faults.rateLimit({ count: 2, shouldRetry: true });
    const error = await caught(client({ maxNetworkRetries: 1 }).events.list());
    expect(error.statusCode).toBe(429);
    expect(api.requests.map((r) => r.status)).toEqual([429, 429]);
  });

  it('every Nth request, on one path only', async () => {
    api.addEvents(events(1, NOW - 60));
    api.setEntitlements('cus_n', ['a']);
    const every = api.faults.rateLimit({ everyNth: 3, path: '/v1/events' });
    for (let i = 0; i < 7; i += 1) {
      await stripe.events.list().catch(() => undefined);
      await stripe.entitlements.activeEntitlements.list({ customer: 'cus_n' });
    }
    expect(api.requestsTo('/v1/events').map((r) => r.status)).toEqual([200, 200, 429, 200, 200, 429, 200]);
    expect(api.requestsTo('/v1/entitlements/active_entitlements').every((r) => r.status === 200)).toBe(true);
    expect(every.hits).toBe(2);
    every.remove();
    await stripe.events.list();
    await stripe.events.list();
    expect(api.requests.at(-1)!.status).toBe(200);
  });

  it('a storm: every request fails for a while, Retry-After says how long is left, then it passes', async () => {
    api.addEvents(events(1, NOW - 60));
    api.faults.rateLimit({ forMs: 1500 });
    const first = await caught(stripe.events.list());
    expect(first.headers?.['retry-after']).toBe('2');
    const second = await caught(stripe.events.list());
    expect(second.statusCode).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect((await stripe.events.list()).data).toHaveLength(1);
  });

  it('a limiter: requests beyond N in the last second get 429, those let through count, the refused do not', async () => {
    api.addEvents(events(1, NOW - 60));
    const limiter = api.faults.rateLimit({ perSecond: 5, path: '/v1/events' });
    const started = Date.now();
    const statuses = await Promise.all(Array.from({ length: 12 }, () => rawGet('/v1/events?limit=1').then((r) => r.status)));
    expect(Date.now() - started).toBeLessThan(1_000); // all inside one window
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(7);
    expect(limiter.hits).toBe(7);
    await new Promise((resolve) => setTimeout(resolve, 1_050));
    expect((await rawGet('/v1/events?limit=1')).status).toBe(200);
  });

  it('500s: retried by the SDK (maxNetworkRetries), or not when Stripe-Should-Retry is false', async () => {
    api.addEvents(events(1, NOW - 60));
    api.faults.serverError({ count: 1 });
    expect((await client({ maxNetworkRetries: 1 }).events.list()).data).toHaveLength(1);
    expect(api.requests.map((r) => [r.status, r.fault])).toEqual([
      [500, 'server_error'],
      [200, undefined],
    ]);
    api.requests.length = 0;
    api.faults.serverError({ count: 1, status: 503, shouldRetry: false });
    const error = await caught(client({ maxNetworkRetries: 2 }).events.list());
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error.statusCode).toBe(503);
    expect(api.requests).toHaveLength(1);
  });

  it('latency: the answer is held; past the SDK timeout the call is retried', async () => {
    api.addEvents(events(1, NOW - 60));
    api.faults.latency({ ms: 300, count: 1 });
    const started = Date.now();
    expect((await stripe.events.list()).data).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(api.requests[0]!.fault).toBe('latency');

    api.requests.length = 0;
    api.faults.latency({ ms: 1000, count: 1 });
    const timedOut = client({ timeoutMs: 200, maxNetworkRetries: 1 });
    expect((await timedOut.events.list()).data).toHaveLength(1);
    expect(api.requests).toHaveLength(2);
    expect(api.requests[1]!.status).toBe(200);
    expect(() => api.faults.latency({ ms: 10, count: 1, forMs: 10 })).toThrow(/one of count, everyNth, forMs, perSecond/);
  });
});

/**
 * Paging as a property: for any collection (many events in few seconds), filter and page size,
 * the SDK's auto-pagination returns exactly the matching events in Stripe's order, each once,
 * forwards from the top and backwards from any cursor.
 */
describe('paging, as a property', () => {
  const TYPES = ['invoice.paid', 'customer.subscription.updated', 'charge.succeeded'];
  test.prop(
    [
      fc.array(fc.record({ second: fc.integer({ min: 0, max: 5 }), type: fc.constantFrom(...TYPES) }), { maxLength: 40 }),
      fc.integer({ min: 1, max: 12 }),
      fc.subarray(TYPES),
      fc.nat(),
    ],
    { numRuns: 40 },
  )('auto-pagination returns each matching event once, in order', async (specs, limit, types, cursorSeed) => {
    api.reset();
    const list = [...specs]
      .sort((a, b) => a.second - b.second)
      .map((s) => event(s.type, { id: 'obj_1', object: 'thing' }, { created: NOW - 100 + s.second }));
    api.addEvents(list);
    const order = listOrder(list);
    const matching = order.filter((id) => types.length === 0 || types.includes(list.find((e) => e.id === id)!.type));
    const params = types.length > 0 ? { types, limit } : { limit };
    const forwards = (await stripe.events.list(params).autoPagingToArray({ limit: 1000 })).map((e) => e.id);
    expect(forwards).toEqual(matching);
    if (order.length === 0) return;
    const cursor = order[cursorSeed % order.length]!;
    const backwards = (await stripe.events.list({ ...params, ending_before: cursor }).autoPagingToArray({ limit: 1000 })).map((e) => e.id);
    expect(backwards).toEqual(matching.filter((id) => order.indexOf(id) < order.indexOf(cursor)).reverse());
    const after = (await stripe.events.list({ ...params, starting_after: cursor }).autoPagingToArray({ limit: 1000 })).map((e) => e.id);
    expect(after).toEqual(matching.filter((id) => order.indexOf(id) > order.indexOf(cursor)));
  });
});
