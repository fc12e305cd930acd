import { Writable } from 'node:stream';
import { setTimeout } from 'node:timers/promises';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyEvents, defaultBillingConfig } from '@billing/billing';
import { users } from '@billing/db/schema';
import type { StripeEventJobData, StripeEventJobResult } from '@billing/queue';
import { createLogger, type Logger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { activeEntitlementSummaryObject } from '@billing/stripe-simulator/entitlements';
import { event, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { startAccessClock } from './access-clock';
import { createWorkerMetrics } from './metrics';
import { createProcessor } from './processor';
import { stripeEntitlementsFetcher } from './stripe-entitlements-fetcher';

/** The worker's side of the host application contract: the access clock task, entitlements through the processor. */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('worker_host');
});
afterAll(async () => {
  await t?.drop();
});

const asJob = (e: StripeEvent) => ({ data: signedJob(e), attemptsMade: 0 }) as unknown as Job<StripeEventJobData, StripeEventJobResult>;
const HOUR = 3_600;

function captured(label: string): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const written: string[] = [];
  const destination = new Writable({ write: (chunk, _encoding, done) => void (written.push(String(chunk)), done()) });
  return { logger: createLogger(label, 'info', destination), lines: () => written.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('the access clock task', () => {
  it('several workers’ clocks: a grace over is revoked within an interval, once, with its row', async () => {
    const [user] = await t.db.insert(users).values({ email: 'grace@example.com', stripeCustomerId: 'cus_grace' }).returning();
    const now = Math.floor(Date.now() / 1000);
    const policy = { pastDueGraceSeconds: HOUR };
    // past_due since a little less than the grace ago (decided at `now`): the grace ends two seconds later.
    const since = now - HOUR + 2;
    const subscription = (status: string, created: number) =>
      event('customer.subscription.updated', subscriptionObject({ id: 'sub_grace', customer: 'cus_grace', status }), { created });
    const [active, pastDue] = [subscription('active', since - 10), subscription('past_due', since)];
    const batch = await applyEvents(t.connection(), [active, pastDue], defaultBillingConfig, { accessPolicy: policy, now: () => now });
    expect(batch.results.every((r) => !(r instanceof Error))).toBe(true);

    const registry = createRegistry('clock-test');
    const metrics = createWorkerMetrics(registry);
    const logs = captured('clock-test');
    const clocks = [0, 1].map(() =>
      startAccessClock({ intervalMs: 100, connection: t.connection(), policy, logger: logs.logger, metrics }),
    );
    try {
      await vi.waitFor(
        async () => {
          const [row] = await t.sql`select has_access from billing_access where user_id = ${user!.id}`;
          expect(row).toEqual({ has_access: false });
        },
        { timeout: 5_000, interval: 100 },
      );
      await setTimeout(300); // more runs of both clocks
    } finally {
      await Promise.all(clocks.map((c) => c.stop()));
    }
    const rows = await t.sql`select type, stripe_event_ids from billing_outbox where subject = ${`user:${user!.id}`} order by id`;
    expect(rows).toEqual([
      { type: 'user.access_granted', stripe_event_ids: [active.id] },
      { type: 'user.access_revoked', stripe_event_ids: [] },
    ]);
    expect(await registry.getSingleMetricAsString('billing_worker_access_revoked_by_clock_total')).toMatch(/ 1$/m);
    expect(logs.lines().filter((l) => l.msg === 'access ended by the clock: revoked')).toHaveLength(1);
  });
});

describe('entitlements through the processor', () => {
  let api: FakeStripeApi;
  beforeAll(async () => {
    api = await startFakeStripeApi({ apiKeys: ['sk_test_worker'] });
  });
  afterAll(async () => {
    await api?.close();
  });

  const summary = (customer: string, keys: string[]) =>
    event('entitlements.active_entitlement_summary.updated', activeEntitlementSummaryObject(customer, keys, 2), {
      created: Math.floor(Date.now() / 1000),
    });

  it('has_more without STRIPE_SECRET_KEY: stored incomplete, counted, and an alert line says so', async () => {
    await t.db.insert(users).values({ email: 'partial@example.com', stripeCustomerId: 'cus_partial' });
    const registry = createRegistry('entitlements-partial');
    const logs = captured('entitlements-partial');
    const process = createProcessor({
      connections: [t.connection()],
      reconnect: () => t.connection(),
      signer: testSigner,
      config: defaultBillingConfig,
      metrics: createWorkerMetrics(registry),
      logger: logs.logger,
      sdkApiVersion: 'test',
      rerun: async () => 0,
    });
    const e = summary('cus_partial', ['a', 'b', 'c']);
    await expect(process(asJob(e))).resolves.toEqual({ outcome: 'applied' });
    expect(await registry.getSingleMetricAsString('billing_worker_entitlements_incomplete_total')).toMatch(/ 1$/m);
    expect(logs.lines().find((l) => l.alert === 'entitlements_incomplete')).toMatchObject({
      summaries: [{ eventId: e.id, customerId: 'cus_partial' }],
    });
    const [row] = await t.sql`select lookup_keys, complete from customer_entitlements where stripe_customer_id = 'cus_partial'`;
    expect(row).toEqual({ lookup_keys: ['a', 'b'], complete: false });
  });

  it('has_more with the Stripe API: the SDK lists every page, the whole set is stored', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => `feature_${String(i).padStart(3, '0')}`);
    api.setEntitlements('cus_full', keys);
    expect(await stripeEntitlementsFetcher({ secretKey: 'sk_test_worker', apiBase: api.url })('cus_full')).toEqual(keys);
    expect(api.requestsTo('/v1/entitlements/active_entitlements').map((r) => r.query.get('limit'))).toEqual(['100', '100']);

    await t.db.insert(users).values({ email: 'full@example.com', stripeCustomerId: 'cus_full' });
    const process = createProcessor({
      connections: [t.connection()],
      reconnect: () => t.connection(),
      signer: testSigner,
      config: defaultBillingConfig,
      applyOptions: { fetchEntitlements: stripeEntitlementsFetcher({ secretKey: 'sk_test_worker', apiBase: api.url }) },
      metrics: createWorkerMetrics(createRegistry('entitlements-full')),
      logger: captured('entitlements-full').logger,
      sdkApiVersion: 'test',
      rerun: async () => 0,
    });
    await process(asJob(summary('cus_full', keys)));
    const [row] = await t.sql`
      select a.entitlements, a.entitlements_complete from billing_access a join users u on u.id = a.user_id where u.stripe_customer_id = 'cus_full'`;
    expect(row).toEqual({ entitlements: keys, entitlements_complete: true });
  });
});
