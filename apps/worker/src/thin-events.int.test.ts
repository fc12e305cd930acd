import { fc, test } from '@fast-check/vitest';
import { DelayedError, type Job } from 'bullmq';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { thinJobPayload } from '@billing/billing/job-payload';
import type { StripeEvent, StripeEventJobData, StripeEventJobResult, ThinEvent } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { expectedFromSubscriptionObject } from '@billing/stripe-simulator/oracle';
import { thinEvent, thinTwinOf } from '@billing/stripe-simulator/thin-events';
import { historyDifferences, ledgerOutcomes, observedRows, prepareHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { createWorkerMetrics } from './metrics';
import { createProcessor } from './processor';
import { stripeSubscriptionFetcher } from './stripe-subscription-fetcher';
import { stripeThinFetcher } from './stripe-thin-fetcher';
import type { ThinObjectFetcher } from './thin-events';

/**
 * Thin events through the worker's processor against the fake Stripe API: each handled type alone,
 * duplicated, and mixed with the snapshot events of the same history in any order (fast-check), the
 * rows ending equal to Stripe's final object, each change applied once, one request per object per
 * batch; a 404 recorded `ignored` with its reason; a 429 sent back to the queue without spending an attempt.
 */

const KEY = 'sk_test_worker_thin';
const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
const RUNS = Number(globalThis.process.env.PROPERTY_RUNS ?? 4);
const DAY = 86_400;

let t: TestDatabase;
let api: FakeStripeApi;
let calls: string[] = [];
let processJob: ReturnType<typeof createProcessor>;
let registry: ReturnType<typeof createRegistry>;
const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };

beforeAll(async () => {
  [t, api] = await Promise.all([createTestDatabase('worker_thin'), startFakeStripeApi({ apiKeys: [KEY] })]);
  const thinFetcher = stripeThinFetcher({ secretKey: KEY, apiBase: api.url });
  const counted: ThinObjectFetcher = (kind, id) => {
    calls.push(`${kind}:${id}`);
    return thinFetcher(kind, id);
  };
  registry = createRegistry('worker-thin');
  processJob = createProcessor({
    connections: [t.connection()],
    reconnect: () => t.connection(),
    signer: testSigner,
    config,
    applyOptions: { fetchSubscription: stripeSubscriptionFetcher({ secretKey: KEY, apiBase: api.url }) },
    fetchThinObject: counted,
    metrics: createWorkerMetrics(registry),
    logger: logger as unknown as Logger,
    sdkApiVersion: 'test',
    rerun: async () => 0,
    batch: { maxSize: 200, maxWaitMs: 5 },
  });
});
afterAll(async () => {
  await Promise.all([t?.drop(), api?.close()]);
});
beforeEach(() => {
  calls = [];
});

type Delivery = StripeEvent | ThinEvent;
const isThin = (d: Delivery): d is ThinEvent => d.object === 'v2.core.event';
const asJob = (d: Delivery, extra: Partial<Job> = {}) =>
  ({
    id: d.id,
    data: isThin(d) ? thinJobPayload(testSigner, d) : signedJob(d),
    attemptsMade: 0,
    attemptsStarted: 1,
    ...extra,
  }) as unknown as Job<StripeEventJobData, StripeEventJobResult>;
/** One batch: every job handed to the processor in the same turn (one transaction, one request per object). */
const deliverBatch = (batch: readonly Delivery[]) => Promise.all(batch.map((d) => processJob(asJob(d))));
/** Histories start this far back: every event happened before the fetches, as at Stripe. */
const startOfHistory = () => Math.floor(Date.now() / 1000) - 460 * DAY;

const card = LIFECYCLE_CORPUS.find((c) => c.name === 'card checkout')!;
const subscriptionRequests = (id: string) => api.requestsTo(`/v1/subscriptions/${id}`).length;

describe('each thin type alone, then duplicated', () => {
  it('v1.customer.subscription.*: the subscription fetched once and applied as a snapshot; its twin is then a duplicate', async () => {
    const prepared = await prepareHistory(t.sql, { ...card, route: 'bound' }, startOfHistory());
    api.loadHistory(prepared.built);
    const [history] = prepared.built.subscriptions;
    const created = prepared.built.events.find((e) => e.type === 'customer.subscription.created')!;
    const thin = thinTwinOf(created)!;
    const before = subscriptionRequests(history!.ids.subscription);
    expect(await processJob(asJob(thin))).toEqual({ outcome: 'applied' });
    expect(subscriptionRequests(history!.ids.subscription) - before).toBe(1);
    // The row is Stripe's object as fetched: the final one, though the event announced the creation.
    const row = (await observedRows(t.sql, prepared.built)).get(history!.ids.subscription);
    expect(row).toMatchObject(expectedFromSubscriptionObject(history!.final));
    // The same change again, as the thin event or as its snapshot event: applied once.
    expect(await processJob(asJob(thin))).toEqual({ outcome: 'duplicate' });
    expect(await processJob(asJob(created))).toEqual({ outcome: 'duplicate' });
    expect((await ledgerOutcomes(t.sql, [created])).get(created.id)).toBe('applied');
    // The ledger records the version its object was rendered in: the SDK's, as fetched.
    expect(await t.sql`select api_version from webhook_events where stripe_event_id = ${created.id}`).toEqual([{ api_version: 'test' }]);
  });

  it('records each snapshot event’s api_version in the ledger, in either shape', async () => {
    const legacy = LIFECYCLE_CORPUS.find((x) => x.shape === 'legacy')!;
    for (const c of [card, legacy]) {
      const prepared = await prepareHistory(t.sql, { ...c, route: 'bound' }, startOfHistory());
      const e = prepared.built.events.find((x) => x.type === 'customer.subscription.created')!;
      await processJob(asJob(e));
      expect(await t.sql`select api_version from webhook_events where stripe_event_id = ${e.id}`).toEqual([{ api_version: e.api_version }]);
    }
  });

  it('v1.invoice.payment_failed / v1.invoice.paid: the invoice fetched, its hint applied at the time of the event', async () => {
    const c = LIFECYCLE_CORPUS.find((x) => x.name === 'renewal failed: past_due, retried, recovered');
    expect(c, 'the corpus has a failed-then-recovered renewal').toBeDefined();
    const prepared = await prepareHistory(t.sql, { ...c!, route: 'bound' }, startOfHistory());
    api.loadHistory(prepared.built);
    const events = prepared.built.events;
    // Snapshots first, as delivered by a snapshot destination, then the invoice events as thin ones.
    for (const e of events.filter((x) => x.type.startsWith('customer.subscription.') || x.type === 'checkout.session.completed'))
      await processJob(asJob(e));
    const invoiceEvents = events.filter((e) => /^invoice\.(paid|payment_failed)$/.test(e.type));
    expect(invoiceEvents.length).toBeGreaterThan(1);
    for (const e of invoiceEvents) {
      const n = calls.length;
      expect((await processJob(asJob(thinTwinOf(e)!))).outcome).toMatch(/^(applied|stale|ignored)$/);
      expect(calls.length - n).toBe(1);
      expect(calls.at(-1)).toBe(`invoice:${String(e.data.object.id)}`);
    }
    expect(await historyDifferences(t.sql, prepared)).toEqual([]);
  });

  it('v1.checkout.session.completed: the session fetched and applied as a checkout (its subscription fetched too)', async () => {
    const prepared = await prepareHistory(t.sql, card, startOfHistory());
    api.loadHistory(prepared.built);
    const checkout = prepared.built.events.find((e) => e.type === 'checkout.session.completed')!;
    const sub = prepared.built.subscriptions[0]!.ids.subscription;
    const before = { sessions: api.requestsTo('/v1/checkout/sessions').length, subs: subscriptionRequests(sub) };
    expect(await processJob(asJob(thinTwinOf(checkout)!))).toEqual({ outcome: 'applied' });
    expect(api.requestsTo('/v1/checkout/sessions').length - before.sessions).toBe(1);
    expect(subscriptionRequests(sub) - before.subs).toBe(1);
    // Found by the session's email, like the snapshot checkout; its row is Stripe's object.
    expect(await historyDifferences(t.sql, prepared)).toEqual([]);
    expect(await processJob(asJob(checkout))).toEqual({ outcome: 'duplicate' });
  });

  it('several thin events of one subscription in a batch cost one request', async () => {
    const prepared = await prepareHistory(t.sql, { ...card, route: 'bound' }, startOfHistory());
    api.loadHistory(prepared.built);
    const sub = prepared.built.subscriptions[0]!.ids.subscription;
    const thins = Array.from({ length: 5 }, () =>
      thinEvent({ type: 'v1.customer.subscription.updated', related: { id: sub, type: 'subscription' } }),
    );
    const before = subscriptionRequests(sub);
    const outcomes = await deliverBatch(thins);
    expect(subscriptionRequests(sub) - before).toBe(1);
    expect(outcomes.filter((o) => o.outcome === 'applied').length).toBeGreaterThanOrEqual(1);
    expect(await historyDifferences(t.sql, prepared)).toEqual([]);
  });
});

describe('what Stripe answers', () => {
  it('404: recorded ignored with the reason, under the thin id (its snapshot twin may still apply)', async () => {
    const gone = `sub_gone${Date.now()}`;
    const thin = thinEvent({
      type: 'v1.customer.subscription.updated',
      related: { id: gone, type: 'subscription' },
      snapshotEvent: `evt_twin${Date.now()}`,
    });
    const result = await processJob(asJob(thin));
    expect(result).toEqual({ outcome: 'ignored', reason: `the subscription ${gone} no longer exists at Stripe (404)` });
    const [row] = await t.sql<Array<{ stripe_event_id: string; outcome: string; stripe_subscription_id: string }>>`
      select stripe_event_id, outcome, stripe_subscription_id from webhook_events where stripe_event_id = ${thin.id}`;
    expect(row).toEqual({ stripe_event_id: thin.id, outcome: 'ignored', stripe_subscription_id: gone });
    expect(await t.sql`select 1 from subscriptions where stripe_subscription_id = ${gone}`).toHaveLength(0);
  });

  it('429: back to delayed after Retry-After, no attempt spent, nothing written; applied once Stripe answers', async () => {
    const prepared = await prepareHistory(t.sql, { ...card, route: 'bound' }, startOfHistory());
    api.loadHistory(prepared.built);
    const sub = prepared.built.subscriptions[0]!.ids.subscription;
    const thin = thinEvent({ type: 'v1.customer.subscription.updated', related: { id: sub, type: 'subscription' } });
    api.faults.rateLimit({ path: `/v1/subscriptions/${sub}`, count: 1, retryAfterSeconds: 2 });
    const moveToDelayed = vi.fn(async () => {});
    const job = asJob(thin, { moveToDelayed, attemptsMade: 0 } as unknown as Partial<Job>);
    const sent = Date.now();
    await expect(processJob(job, 'token-1')).rejects.toBeInstanceOf(DelayedError);
    expect(moveToDelayed).toHaveBeenCalledTimes(1);
    const [until, token] = (moveToDelayed.mock.calls as unknown as Array<[number, string]>)[0]!;
    expect(token).toBe('token-1');
    expect(until).toBeGreaterThanOrEqual(sent + 2_000);
    expect(job.attemptsMade).toBe(0);
    expect(await ledgerOutcomes(t.sql, [{ id: thin.id } as StripeEvent])).toEqual(new Map([[thin.id, 'missing']]));
    expect(await registry.getSingleMetricAsString('billing_worker_thin_rate_limited_total')).toMatch(/ [1-9]\d*$/m);
    // The delayed job runs again: Stripe answers now.
    expect(await processJob(asJob(thin), 'token-2')).toEqual({ outcome: 'applied' });
    expect(await historyDifferences(t.sql, prepared)).toEqual([]);
  });

  it('5xx: the job fails this attempt (retried with backoff by the queue), nothing written', async () => {
    const prepared = await prepareHistory(t.sql, { ...card, route: 'bound' }, startOfHistory());
    api.loadHistory(prepared.built);
    const sub = prepared.built.subscriptions[0]!.ids.subscription;
    const thin = thinEvent({ type: 'v1.customer.subscription.updated', related: { id: sub, type: 'subscription' } });
    api.faults.serverError({ path: `/v1/subscriptions/${sub}`, count: 1 });
    await expect(processJob(asJob(thin), 'token')).rejects.toThrow(/could not fetch the subscription/);
    expect(await t.sql`select 1 from subscriptions where stripe_subscription_id = ${sub}`).toHaveLength(0);
  });
});

/** How a history's events are delivered: each handled snapshot as itself, as its thin twin, or both; some twice. */
const deliveryPlan = (length: number) =>
  fc.record({
    forms: fc.array(fc.constantFrom('snapshot', 'thin', 'both'), { minLength: length, maxLength: length }),
    again: fc.array(fc.boolean(), { minLength: length, maxLength: length }),
    order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 3 * length, maxLength: 3 * length }),
    cuts: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 3 * length, maxLength: 3 * length }),
  });

describe.each(LIFECYCLE_CORPUS)('mixed with the snapshot events: $name', (c) => {
  const probe = c.build({ tag: 'probe', start: 1_700_000_000, user: { id: 1, email: 'probe@example.com' }, shape: c.shape ?? 'basil' });

  test.prop([deliveryPlan(probe.events.length)], { numRuns: RUNS })(
    'in any order, duplicated: rows equal Stripe’s final object, each change applied once, one request per object per batch',
    async ({ forms, again, order, cuts }) => {
      const prepared = await prepareHistory(t.sql, c, startOfHistory());
      api.loadHistory(prepared.built);
      const deliveries: Delivery[] = [];
      for (const [i, e] of prepared.built.events.entries()) {
        const twin = thinTwinOf(e);
        const form = twin ? forms[i]! : 'snapshot';
        const copies: Delivery[] = form === 'snapshot' ? [e] : form === 'thin' ? [twin!] : [e, twin!];
        deliveries.push(...copies, ...(again[i] ? [copies[0]!] : []));
      }
      const shuffled = deliveries
        .map((d, i) => ({ d, k: order[i] ?? 0 }))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.d);
      for (let at = 0, n = 0; at < shuffled.length; n += 1) {
        const batch = shuffled.slice(at, at + (cuts[n] ?? 4));
        at += batch.length;
        calls = [];
        const results = await deliverBatch(batch);
        expect(results.every((r) => ['applied', 'stale', 'ignored', 'duplicate', 'unresolved'].includes(r.outcome))).toBe(true);
        expect(new Set(calls).size, `one request per object in a batch: ${calls.join(', ')}`).toBe(calls.length);
      }
      expect(await historyDifferences(t.sql, prepared)).toEqual([]);
      // Each change once: one ledger row per key, whichever family brought it; no status moved twice by one event.
      const repeated = await t.sql`
        select stripe_subscription_id, stripe_event_id, from_status, to_status, count(*)::int as n from subscription_transitions
        where stripe_subscription_id = any(${prepared.built.subscriptions.map((s) => s.ids.subscription)})
        group by 1, 2, 3, 4 having count(*) > 1`;
      expect(repeated).toEqual([]);
      const outcomes = await ledgerOutcomes(t.sql, prepared.built.events);
      for (const [i, e] of prepared.built.events.entries())
        if (thinTwinOf(e) && forms[i] !== 'snapshot') expect(outcomes.get(e.id), e.type).not.toBe('missing');
    },
  );
});
