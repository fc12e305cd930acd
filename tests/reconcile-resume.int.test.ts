// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { applyEvents } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { testSigner } from '@billing/testing/job-signing';
import { runScript, startNodeProcess } from '@billing/testing/processes';
import { queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reconcile, type ReconcileDeps } from '../scripts/lib/reconcile';
import { parseReconcileArgs } from '../scripts/lib/reconcile-args';
import { config, DAY } from './reconcile.fixture';

/** 429 storms, a SIGKILL mid-run, and the CLI: a run completes, resumes after its last page, and repairs nothing twice. */
describe('reconcile under rate limits and kills', () => {
  let fake: FakeStripeApi;
  let t: TestDatabase;
  let connection: Sql;
  let queueConfig: QueueConfig;
  let store: QueueStore;
  let queue: EventQueue;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    fake = await startFakeStripeApi({ apiKeys: ['sk_test_resume'] });
    t = await createTestDatabase('reconcile_resume');
    connection = t.connection();
    queueConfig = await testQueueConfig('postgres', t.url);
    store = openQueueStore(queueConfig, { role: 'producer' });
  });
  afterAll(async () => {
    await fake?.close();
    await store?.close();
    await t?.drop();
  });
  beforeEach(async () => {
    fake.reset();
    queue = openEventQueue(store, uniqueQueueName('resume'));
    await t.sql`truncate subscriptions, users, webhook_events, subscription_transitions, billing_outbox, billing_access, reconcile_runs cascade`;
  });
  afterEach(async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  });

  /** `n` active subscriptions, each of its own user, that Stripe says are past_due now: `n` status drifts. */
  async function seedPastDue(n: number, tag: string): Promise<string[]> {
    const ids: string[] = [];
    const events = [];
    for (let i = 0; i < n; i += 1) {
      const id = `sub_${tag}${String(i).padStart(4, '0')}`;
      const customer = `cus_${tag}${i}`;
      await t.sql`insert into users (email, stripe_customer_id) values (${`${tag}${i}@example.com`}, ${customer})`;
      const object = subscriptionObject({ id, customer, currentPeriodEnd: now + 20 * DAY });
      object.created = now - 10 * DAY + i;
      events.push(event('customer.subscription.created', object, { created: now - 10 * DAY + i }));
      fake.setSubscription({ ...object, status: 'past_due' });
      ids.push(id);
    }
    for (let i = 0; i < events.length; i += 50) {
      const { results } = await applyEvents(connection, events.slice(i, i + 50), config);
      for (const r of results) if (r instanceof Error) throw r;
    }
    return ids;
  }

  const repairsPerSubscription = async () =>
    new Map(
      (
        await t.sql<Array<{ id: string; n: number }>>`
          select stripe_subscription_id as id, count(*)::int as n from webhook_events where stripe_event_id like 'evt_reconcile%' group by 1`
      ).map((r) => [r.id, r.n]),
    );

  const env = () => ({
    STRIPE_SECRET_KEY: 'sk_test_resume',
    STRIPE_API_BASE: fake.url,
    DATABASE_URL: t.url,
    ...queueEnvOf(queueConfig),
    QUEUE_NAME: queue.name,
  });

  it('a 429 storm: Retry-After is waited out, every page is listed once, every drift repaired once', async () => {
    const ids = await seedPastDue(250, 'storm');
    // Every other list request refused, and a storm of 1.5 s on everything (Retry-After: the rest of it).
    fake.faults.rateLimit({ path: '/v1/subscriptions', everyNth: 2, retryAfterSeconds: 0 });
    fake.faults.rateLimit({ forMs: 1_500 });
    const deps: ReconcileDeps = {
      stripe: createStripeClient('sk_test_resume', { apiBase: fake.url }),
      db: t.db,
      sql: t.sql,
      connection,
      store,
      queue,
      signer: testSigner,
      config,
    };
    const report = await reconcile(deps, parseReconcileArgs(['--repair', '--since', '1d']));
    expect(fake.requests.filter((r) => r.status === 429).length).toBeGreaterThan(2);
    const listed = fake.requestsTo('/v1/subscriptions').filter((r) => r.path === '/v1/subscriptions' && r.status === 200);
    expect(listed.map((r) => r.query.get('starting_after'))).toEqual([null, ids[150], ids[50]]);
    expect(
      report.state.drifts
        .filter((d) => d.class === 'status')
        .map((d) => d.subscriptionId)
        .sort(),
    ).toEqual(ids);
    const repairs = await repairsPerSubscription();
    expect([...repairs.keys()].sort()).toEqual(ids);
    expect([...repairs.values()].every((n) => n === 1)).toBe(true);
    const statuses = await t.sql`select distinct status from subscriptions`;
    expect(statuses.map((r) => r.status)).toEqual(['past_due']);
  });

  it('SIGKILL mid-run: started again, it resumes after the last page it recorded, skips none, repairs none twice', async () => {
    const ids = await seedPastDue(250, 'kill');
    // Slow pages, so the kill lands after the first page is recorded and before the run ends.
    fake.faults.latency({ path: '/v1/subscriptions', ms: 1_500, forMs: 60_000 });
    const child = await startNodeProcess('reconcile', 'scripts/reconcile.ts', env(), /^reconcile: queue/, {
      args: ['--repair', '--since', '1d'],
    });
    await waitFor(
      async () => {
        const [run] = await t.sql`select pages from reconcile_runs where sweep = 'state' and finished_at is null`;
        return Number(run?.pages ?? 0) >= 1;
      },
      'the first page recorded',
      30_000,
    );
    child.child.kill('SIGKILL');
    await child.exited;
    const [stopped] = await t.sql`select cursor, pages, finished_at from reconcile_runs where sweep = 'state'`;
    expect(stopped?.finished_at).toBeNull();
    expect(stopped?.cursor).toBeTruthy();
    const before = fake.requests.length;
    fake.faults.clear();

    const resumed = await runScript('scripts/reconcile.ts', ['--repair', '--since', '1d', '--json'], env(), 60_000);
    expect(resumed.stderr).toBe('');
    expect(resumed.status).toBe(1);
    const report = JSON.parse(resumed.stdout);
    expect(report.run.resumed).toBe(true);
    // The report holds what the killed run found on its pages and what the resumed one found after.
    const reported = report.drift
      .filter((d: { class: string }) => d.class === 'status')
      .map((d: { subscription: string }) => d.subscription);
    expect(reported.sort()).toEqual(ids);
    // The resumed run asked for the page after the recorded cursor first: nothing before it again, nothing skipped.
    const lists = fake.requests.slice(before).filter((r) => r.path === '/v1/subscriptions');
    expect(lists[0]!.query.get('starting_after')).toBe(stopped!.cursor);
    const repairs = await repairsPerSubscription();
    expect([...repairs.keys()].sort()).toEqual(ids);
    expect([...repairs.values()].every((n) => n === 1)).toBe(true);
    const statuses = await t.sql`select distinct status from subscriptions`;
    expect(statuses.map((r) => r.status)).toEqual(['past_due']);
    const [done] = await t.sql`select count(*)::int as unfinished from reconcile_runs where finished_at is null`;
    expect(done?.unfinished).toBe(0);

    const again = await runScript('scripts/reconcile.ts', ['--since', '1d'], env(), 60_000);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(/^reconcile: 0 drifts in the state sweep/);
  });

  it('the CLI: a sample report, --json, exit codes, and one clear line without a key', async () => {
    await seedPastDue(2, 'cli');
    const table = await runScript('scripts/reconcile.ts', ['--since', '1h'], env(), 60_000);
    expect(table.status).toBe(1);
    expect(table.stdout).toMatch(/sub_cli0000\s+status\s+active → past_due/);
    expect(table.stdout).toMatch(/Read-only: nothing changed/);
    const json = await runScript('scripts/reconcile.ts', ['--since', '1h', '--json', '--customer', 'cus_cli1'], env(), 60_000);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout).drift.map((d: { subscription: string; class: string }) => `${d.subscription}:${d.class}`)).toEqual([
      'sub_cli0001:status',
      'sub_cli0001:user_status',
    ]);
    const noKey = await runScript('scripts/reconcile.ts', [], { DATABASE_URL: t.url });
    expect(noKey.status).toBe(2);
    expect(noKey.stderr.trim()).toBe('reconcile: STRIPE_SECRET_KEY is required');
    const usage = await runScript('scripts/reconcile.ts', ['--customer', 'nope'], {});
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^reconcile: --customer "nope" is not a Stripe customer id/);
    const badKey = await runScript('scripts/reconcile.ts', [], { ...env(), STRIPE_SECRET_KEY: 'sk_test_other' });
    expect(badKey.status).toBe(2);
    expect(badKey.stderr).toMatch(/Invalid API Key/);
  });
});
