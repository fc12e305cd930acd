// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import type { Sql } from '@billing/db/client';
import { enqueueEvent, openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { testSigner } from '@billing/testing/job-signing';
import { testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { event } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reconcile, formatReconcileReport, reconcileJson, type ReconcileDeps } from '../scripts/lib/reconcile';
import { parseReconcileArgs } from '../scripts/lib/reconcile-args';
import { config, corpusCase, DAY, rowOf, seedHistory, stripeTruth } from './reconcile.fixture';

describe('reconcile against the fake Stripe API and real Postgres', () => {
  let fake: FakeStripeApi;
  let t: TestDatabase;
  let connection: Sql;
  let queueConfig: QueueConfig;
  let store: QueueStore;
  let queue: EventQueue;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    fake = await startFakeStripeApi({ apiKeys: ['sk_test_reconcile'] });
    t = await createTestDatabase('reconcile');
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
    queue = openEventQueue(store, uniqueQueueName('reconcile'));
    // Each test sees only its own rows.
    await t.sql`truncate subscriptions, users, webhook_events, subscription_transitions, billing_outbox, billing_access, reconcile_runs cascade`;
  });
  afterEach(async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  });

  const deps = (): ReconcileDeps => ({
    stripe: createStripeClient('sk_test_reconcile', { apiBase: fake.url }),
    db: t.db,
    sql: t.sql,
    connection,
    store,
    queue,
    signer: testSigner,
    config,
    backoff: { baseDelayMs: 10 },
  });
  const run = (...argv: string[]) => reconcile(deps(), parseReconcileArgs(argv));

  it('reports each drift class seeded on purpose, skips what queued events explain, repairs through the rules, and then finds nothing', async () => {
    const checkout = corpusCase('card checkout');
    const start = now - 40 * DAY; // the events are older than the 30-day window: only the state sweep sees these
    const seeded: Record<string, string> = {};
    for (const name of [
      'status',
      'period',
      'price_plan',
      'cancellation',
      'trial',
      'user_status',
      'missing_local',
      'missing_remote',
      'pending',
    ]) {
      const prepared = await seedHistory(t.sql, connection, fake, checkout, start);
      seeded[name] = prepared.built.subscriptions[0]!.ids.subscription;
      seeded[`${name}:customer`] = prepared.built.customer;
      seeded[`${name}:user`] = String(prepared.user.id);
    }
    const id = (name: string) => seeded[name]!;
    // Stripe moved on without us (events lost), or our row is wrong.
    fake.updateSubscription(id('status'), { status: 'past_due' });
    await t.sql`update subscriptions set current_period_end = current_period_end - interval '30 days' where stripe_subscription_id = ${id('period')}`;
    await t.sql`update subscriptions set stripe_price_id = 'price_starter_monthly', plan_slug = 'starter' where stripe_subscription_id = ${id('price_plan')}`;
    fake.updateSubscription(id('cancellation'), { cancel_at_period_end: true });
    await t.sql`update subscriptions set trial_end = now() where stripe_subscription_id = ${id('trial')}`;
    await t.sql`update users set subscription_status = 'canceled' where id = ${Number(id('user_status:user'))}`;
    const extra = `${id('missing_local')}x2`;
    fake.setSubscription({ ...fake.subscription(id('missing_local'))!, id: extra, created: now - DAY });
    fake.deleteSubscription(id('missing_remote'));
    // Stripe says canceled, and the event saying so is waiting in the queue: not drift.
    fake.updateSubscription(id('pending'), { status: 'canceled' });
    const waiting = event('customer.subscription.deleted', { ...fake.subscription(id('pending'))! }, { created: now });
    await enqueueEvent(store, queue, waiting);

    const found = await run();
    const classes = found.state.drifts.map((d) => `${d.subscriptionId}:${d.class}`).sort();
    expect(classes).toEqual(
      [
        `${id('status')}:status`,
        `${id('status')}:user_status`, // the user's status follows Stripe's past_due
        `${id('period')}:period`,
        `${id('price_plan')}:price_plan`,
        `${id('cancellation')}:cancellation`,
        `${id('trial')}:trial`,
        `${id('user_status')}:user_status`,
        `${extra}:missing_local`,
        `${id('missing_remote')}:missing_remote`,
      ].sort(),
    );
    expect(found.state.skipped.map((s) => [s.subscriptionId, s.class, s.reason])).toEqual(
      expect.arrayContaining([[id('pending'), 'status', `1 event of ${id('pending')} still queued (${waiting.id})`]]),
    );
    expect(found.state.skipped.every((s) => s.subscriptionId === id('pending'))).toBe(true);
    expect(found.exitCode).toBe(1);
    expect(found.state.byClass).toMatchObject({
      status: 1,
      period: 1,
      price_plan: 1,
      cancellation: 1,
      trial: 1,
      user_status: 2,
      missing_local: 1,
      missing_remote: 1,
    });
    const period = found.state.drifts.find((d) => d.class === 'period')!;
    expect(period.ours).toBe(
      new Date((stripeTruth(fake, id('period'))!.currentPeriodEnd! - 30 * DAY) * 1000).toISOString().replace('.000Z', 'Z'),
    );
    expect(period.lastEventAt).toBeGreaterThan(start - 1);
    // Read-only: nothing changed.
    expect((await rowOf(t.sql, id('status')))?.status).toBe('active');
    const text = formatReconcileReport(found);
    expect(text).toMatch(new RegExp(`${id('status')}\\s+status\\s+active → past_due`));
    expect(text).toContain('Skipped (explained by events still queued)');
    expect(JSON.parse(reconcileJson(found)).drift).toHaveLength(9);

    const repaired = await run('--repair');
    expect(repaired.exitCode).toBe(1);
    for (const name of ['status', 'period', 'price_plan', 'cancellation', 'trial', 'user_status', 'missing_local']) {
      const sub = name === 'missing_local' ? extra : id(name);
      expect(await rowOf(t.sql, sub), name).toEqual({ ...stripeTruth(fake, sub)! });
    }
    const [user] = await t.sql`select subscription_status from users where id = ${Number(id('user_status:user'))}`;
    expect(user?.subscription_status).toBe('active');
    const [pastDueUser] = await t.sql`select subscription_status from users where id = ${Number(id('status:user'))}`;
    expect(pastDueUser?.subscription_status).toBe('past_due');
    // Through the rules: the ledger, the audit trail and the outbox record the repair like any change.
    const transitions =
      await t.sql`select from_status, to_status, stripe_event_id from subscription_transitions where stripe_subscription_id = ${id('status')} order by id`;
    expect(transitions.at(-1)).toMatchObject({ from_status: 'active', to_status: 'past_due' });
    expect(String(transitions.at(-1)!.stripe_event_id)).toMatch(/^evt_reconcile\d+/);
    const outbox = await t.sql`select type from billing_outbox where subject = ${id('status')} order by id`;
    expect(outbox.map((r) => r.type)).toContain('subscription.past_due');
    const cancellation = await t.sql`select type from billing_outbox where subject = ${id('cancellation')} order by id`;
    expect(cancellation.at(-1)?.type).toBe('subscription.cancellation_scheduled');
    // Our row said starter, but the host was only ever told pro: putting pro back tells it nothing new.
    const plan = await t.sql`select type from billing_outbox where subject = ${id('price_plan')} order by id`;
    expect(plan.map((r) => r.type)).not.toContain('subscription.plan_changed');
    // missing_remote is reported, never repaired; the queued subscription is left to its event.
    expect(await rowOf(t.sql, id('missing_remote'))).toBeDefined();
    expect((await rowOf(t.sql, id('pending')))?.status).toBe('active');
    expect(formatReconcileReport(repaired)).toMatch(/Not repaired: 1 missing_remote/);

    const again = await run();
    expect(again.state.drifts.map((d) => `${d.subscriptionId}:${d.class}`)).toEqual([`${id('missing_remote')}:missing_remote`]);
    expect(again.state.repaired).toEqual([]);
  });

  it('one run of a scope at a time: a second, while the first runs, says so and changes nothing', async () => {
    await seedHistory(t.sql, connection, fake, corpusCase('card checkout'), now - 40 * DAY);
    fake.faults.latency({ path: '/v1/subscriptions', ms: 1_000, count: 1 });
    const first = run();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the first holds the lease, its page is on the way
    // Another process: a connection of its own (an advisory lock is the session's).
    await expect(reconcile({ ...deps(), connection: t.connection() }, parseReconcileArgs([]))).rejects.toThrow(
      /another reconcile state sweep of the same scope \(all\) is running/,
    );
    expect((await first).exitCode).toBe(0);
    expect((await run()).exitCode).toBe(0);
  });

  it('the events sweep finds the handled events missing from the ledger; --repair enqueues them and skips what they explain', async () => {
    const prepared = await seedHistory(
      t.sql,
      connection,
      fake,
      corpusCase('renewal failed: past_due, retried, recovered'),
      now - 20 * DAY,
      (events) => [events.slice(0, 3)],
    );
    const sub = prepared.built.subscriptions[0]!.ids.subscription;
    const readOnly = await run('--since', '25d');
    expect(readOnly.events.missing.length).toBeGreaterThan(0);
    expect(readOnly.state.drifts.some((d) => d.subscriptionId === sub)).toBe(true);
    expect(readOnly.exitCode).toBe(1);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 0 });

    const repaired = await run('--since', '25d', '--repair');
    expect(repaired.events.missing.map((e) => e.id)).toEqual(readOnly.events.missing.map((e) => e.id));
    expect((await queue.getJobCounts('waiting')).waiting).toBe(readOnly.events.missing.length);
    // The subscription's events now wait in the queue: the worker will apply them, reconcile leaves it.
    expect(repaired.state.drifts.filter((d) => d.subscriptionId === sub)).toEqual([]);
    expect(repaired.state.skipped.some((s) => s.subscriptionId === sub)).toBe(true);
    expect(repaired.state.repaired).toEqual([]);

    const again = await run('--since', '25d');
    expect(again.events.missing).toEqual([]);
    expect(again.state.drifts).toEqual([]);
    expect(again.exitCode).toBe(0);
  });
});
