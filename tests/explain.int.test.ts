// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { applyEvent, defaultBillingConfig } from '@billing/billing';
import {
  openEventQueue,
  openQueueStore,
  type EventQueue,
  type QueueConfig,
  type QueueStore,
  type StripeEventJobData,
} from '@billing/queue';
import { prepareHistory, type PreparedHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, dropQueue, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { runScript } from '@billing/testing/processes';
import { explain, formatExplanation } from '../scripts/lib/explain';

/** `npm run explain`: one subscription's story, as support needs it — read-only. */

describeEachBackend('npm run explain', (backend) => {
  let t: TestDatabase;
  let config: QueueConfig;
  let store: QueueStore;
  let queue: EventQueue;
  let prepared: PreparedHistory;
  const queueName = uniqueQueueName('explain');

  beforeAll(async () => {
    t = await createTestDatabase('explain');
    config = await testQueueConfig(backend, t.url);
    store = openQueueStore(config, { role: 'producer' });
    queue = openEventQueue(store, queueName);
    // The renewal that failed and recovered, customer known only once the checkout arrives.
    prepared = await prepareHistory(
      t.sql,
      LIFECYCLE_CORPUS.find((c) => c.name.startsWith('renewal failed: past_due'))!,
      1_790_000_000,
    );
    const events = prepared.built.events;
    const updated = events.filter((e) => e.type === 'customer.subscription.updated');
    const created = events.find((e) => e.type === 'customer.subscription.created')!;
    const checkout = events.find((e) => e.type === 'checkout.session.completed')!;
    const apply = (e: (typeof events)[number]) => applyEvent(t.connection(), e, defaultBillingConfig);
    await apply(created); // unresolved: nobody has that customer yet
    await apply(checkout); // links it, and applies the created event in its transaction
    await apply(updated.at(-1)!); // the recovery…
    await apply(updated.at(-2)!); // …then the older past_due update: stale
    for (const e of [created, checkout, ...updated.slice(-2)]) await queue.add(e.type, e as StripeEventJobData, { jobId: e.id });
    // A job that failed for good: the same customer's invoice with a broken object.
    const broken = { ...events.find((e) => e.type === 'invoice.paid')!, data: { object: { id: 'in_broken', object: 'charge' } } };
    await queue.add(broken.type, broken as StripeEventJobData, { jobId: broken.id });
    await t.sql`insert into webhook_events (stripe_event_id, event_type, stripe_customer_id, outcome) values (${broken.id}, ${broken.type}, ${prepared.built.customer}, 'ignored')`;
    // Stands in for the worker (whose ledger rows are written above): completes the jobs, fails the broken one.
    const consumer = openQueueStore(config, { role: 'consumer' });
    const stand = consumer.worker(
      queueName,
      async (job) => {
        if (job.id === broken.id) throw new UnrecoverableError('invoice.paid: data.object is a charge, expected invoice');
        return { outcome: 'applied' };
      },
      { autorun: false },
    );
    void stand.run();
    await vi.waitFor(async () => expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 4, failed: 1 }), {
      timeout: 20_000,
    });
    await stand.close();
    await consumer.close();
  });
  afterAll(async () => {
    await queue?.close();
    await store?.close();
    await dropQueue(config, queueName);
    await t?.drop();
  });

  describe('explain', () => {
    it.each(['subscription', 'customer', 'event', 'email'] as const)(
      'by %s: the rows, the derived status, the ledger in created order with job states, the transitions',
      async (by) => {
        const sub = prepared.built.subscriptions[0]!.ids.subscription;
        const subject = {
          subscription: sub,
          customer: prepared.built.customer,
          event: prepared.built.events[1]!.id,
          email: prepared.user.email.toUpperCase(),
        }[by];
        const e = await explain(t.db, queue, subject);
        expect(e.subscriptions.map((s) => [s.stripeSubscriptionId, s.status])).toEqual([[sub, 'active']]);
        expect(e.user).toMatchObject({ id: prepared.user.id, subscriptionStatus: 'active' });
        expect(e.derivedStatus).toBe('active');
        const created = e.ledger.map((l) => l.created?.getTime() ?? 0);
        expect(created).toEqual([...created].sort((a, b) => a - b));
        const outcome = (type: string) => e.ledger.filter((l) => l.type === type).map((l) => [l.outcome, l.job]);
        expect(outcome('customer.subscription.created')).toEqual([['applied', 'completed']]); // unresolved, then applied
        expect(outcome('customer.subscription.updated')).toEqual([
          ['stale', 'completed'],
          ['applied', 'completed'],
        ]);
        if (by !== 'subscription')
          expect(outcome('invoice.paid')).toEqual([
            ['ignored', 'failed: invoice.paid: data.object is a charge, expected invoice (attempts 1)'],
          ]);
        expect(e.transitions.map((t) => [t.from, t.to])).toEqual([
          [null, 'active'],
          ['active', 'incomplete'],
          ['incomplete', 'active'],
        ]);
      },
    );

    it('the access decision and the rule behind it, taken again now under the policy, and what the host was told', async () => {
      const sub = prepared.built.subscriptions[0]!.ids.subscription;
      const e = await explain(t.db, queue, prepared.user.email, { policy: { pastDueGraceSeconds: 3 * 86_400 } });
      expect(e.access?.stored).toMatchObject({ hasAccess: true, planSlug: 'pro', reason: 'active', accessUntil: null });
      expect(e.access?.now).toMatchObject({ hasAccess: true, planSlug: 'pro', reason: 'active', subscriptionId: sub });
      expect(e.access?.now.grants).toEqual([expect.objectContaining({ subscriptionId: sub, grants: true, rule: 'active grants' })]);
      expect(e.outbox.map((o) => [o.subject, o.type])).toEqual([
        [sub, 'subscription.created'],
        [sub, 'subscription.activated'],
        [`user:${prepared.user.id}`, 'user.access_granted'],
      ]);
      const text = formatExplanation(e);
      expect(text).toContain('access (billing_access): granted (plan pro, active)');
      expect(text).toMatch(/taken again at .* under the policy \(past_due grace 3 days\): granted \(plan pro, active\) \(= stored\)/);
      expect(text).toContain(`→ ${sub}: active grants`);
      expect(text).toMatch(/told the host \(billing_outbox, the newest 20\) \(3 rows\)/);
    });

    it('runs as npm run explain, read-only, and says so when the subject is unknown', async () => {
      const env = { PATH: process.env.PATH ?? '', DATABASE_URL: t.url, ...queueEnvOf(config), QUEUE_NAME: queueName };
      const before = await t.sql`select count(*)::int as n, max(processed_at) as at from webhook_events`;
      const run = await runScript('scripts/explain.ts', [prepared.built.customer], env, 30_000);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(run.stdout).toContain(`user ${prepared.user.id} ${prepared.user.email}`);
      expect(run.stdout).toContain('(= derived from all of their subscriptions)');
      expect(run.stdout).toMatch(/ledger, in Stripe’s created order \(\d+ rows\)/);
      expect(run.stdout).toContain('access (billing_access): granted (plan pro, active)');
      expect(await t.sql`select count(*)::int as n, max(processed_at) as at from webhook_events`).toEqual(before);
      const unknown = await runScript('scripts/explain.ts', ['sub_nothing'], env, 30_000);
      expect(unknown.status).toBe(0);
      expect(unknown.stdout).toContain('subscriptions: (no rows)');
      const bad = await runScript('scripts/explain.ts', ['nonsense'], env, 30_000);
      expect([bad.status, bad.stderr.trim()]).toEqual([2, 'explain: "nonsense" is neither a sub_…, cus_…, evt_… id nor an email']);
    });
  });
});
