import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvents, defaultBillingConfig } from '@billing/billing';
import { openEventQueue, openQueueStore } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, type Registry } from '@billing/runtime/metrics';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { startWorker, type WorkerHandle } from './worker';

/** The scheduled reconcile state sweep: one run at a time across two workers, once per interval, and its metrics. */
describe('scheduled reconcile', () => {
  let t: TestDatabase;
  let fake: FakeStripeApi;
  const now = Math.floor(Date.now() / 1000);
  beforeAll(async () => {
    t = await createTestDatabase('reconcile_schedule');
    fake = await startFakeStripeApi({ apiKeys: ['sk_test_schedule'] });
  });
  afterAll(async () => {
    await fake?.close();
    await t?.drop();
  });

  it('two workers: one runs the sweep, once, repairing with RECONCILE_REPAIR; both export its drift and success', async () => {
    const ids = ['sub_sched1', 'sub_sched2', 'sub_sched3'];
    const connection = t.connection();
    for (const [i, id] of ids.entries()) {
      await t.sql`insert into users (email, stripe_customer_id) values (${`sched${i}@example.com`}, ${`cus_sched${i}`})`;
      const object = subscriptionObject({ id, customer: `cus_sched${i}`, currentPeriodEnd: now + 20 * 86_400 });
      await applyEvents(connection, [event('customer.subscription.created', object, { created: now - 3600 })], defaultBillingConfig);
      fake.setSubscription({ ...object, status: 'past_due' });
    }
    // Slow pages: the run lasts while the other worker's ticks ask for the lease.
    fake.faults.latency({ path: '/v1/subscriptions', ms: 400, forMs: 60_000 });

    const queueConfig = await testQueueConfig('postgres', t.url);
    const queueName = uniqueQueueName('sched');
    const lines: Array<Record<string, unknown>> = [];
    const workers: Array<{ handle: WorkerHandle; registry: Registry }> = [];
    for (const name of ['a', 'b']) {
      const registry = createRegistry(`schedule-${name}`);
      const logger = createLogger(`schedule-${name}`, 'info', {
        write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
      });
      const handle = await startWorker({
        queue: queueConfig,
        queueName,
        databaseUrl: t.url,
        jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
        config: defaultBillingConfig,
        logger,
        registry,
        sweepIntervalMs: 0,
        accessClockIntervalMs: 0,
        failedExpiryIntervalMs: 0,
        reconcile: {
          stripe: createStripeClient('sk_test_schedule', { apiBase: fake.url }),
          intervalMs: 3_600_000,
          repair: true,
          tickMs: 100,
        },
      });
      workers.push({ handle, registry });
    }
    try {
      await waitFor(
        async () => (await t.sql`select 1 from reconcile_runs where finished_at is not null`).length === 1,
        'a finished run',
        30_000,
      );
      // Many more ticks of both workers: the interval (an hour) has not passed, nobody runs again.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const runs = await t.sql`select scope, finished_at from reconcile_runs`;
      expect(runs.map((r) => r.scope)).toEqual(['all+repair']);
      const firstPages = fake.requests.filter((r) => r.path === '/v1/subscriptions' && r.query.get('starting_after') === null);
      expect(firstPages).toHaveLength(1);
      const repairs = await t.sql`select stripe_subscription_id from webhook_events where stripe_event_id like 'evt_reconcile%' order by 1`;
      expect(repairs.map((r) => r.stripe_subscription_id)).toEqual(ids);
      const statuses = await t.sql`select distinct status from subscriptions`;
      expect(statuses.map((r) => r.status)).toEqual(['past_due']);
      expect(lines.filter((l) => l.alert === 'reconcile_drift')).toHaveLength(1);

      for (const { registry } of workers) {
        const text = await registry.metrics();
        expect(text).toMatch(/billing_reconcile_drift\{class="status"(,[^}]*)?\} 3/);
        expect(text).toMatch(/billing_reconcile_drift\{class="missing_remote"(,[^}]*)?\} 0/);
        const success = Number(/^billing_reconcile_last_success_timestamp_seconds(\{[^}]*\})? (\S+)$/m.exec(text)?.[2]);
        expect(success).toBeGreaterThanOrEqual(now);
        expect(text).toMatch(/billing_reconcile_interval_seconds(\{[^}]*\})? 3600/);
      }

      // Asked again past the interval (forced), the next run finds nothing: the repair held.
      fake.faults.clear();
      const again = await workers[1]!.handle.reconcile(true);
      expect(again?.drifts).toEqual([]);
    } finally {
      for (const { handle } of workers) await handle.close();
      const store = openQueueStore(queueConfig, { role: 'producer' });
      const queue = openEventQueue(store, queueName);
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await store.close();
    }
  });
});
