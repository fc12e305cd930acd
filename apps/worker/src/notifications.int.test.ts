import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { applyEvent, applyEvents, defaultBillingConfig } from '@billing/billing';
import { users } from '@billing/db/schema';
import {
  enqueueEvent,
  notificationQueueName,
  openEventQueue,
  openNotificationQueue,
  openQueueStore,
  type NotificationRetrySchedule,
} from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, type Registry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { describeEachBackend, testQueueConfig, uniqueQueueName, type QueueBackend } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';
import { event, lifecycle, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { checkDeliveries as checkDeliveriesOf, outboxRowsOf } from '../test-support/delivery-check';
import { startNotificationHost, type HostAnswer, type NotificationHost } from '../test-support/notification-host';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from './worker';

/**
 * Delivery of the outbox to the host application: every committed row reaches the host, signed,
 * in per-subject order, whatever the host does (down, 500s, no answer) and whether or not the
 * worker wrote the row's job after its commit.
 */

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const logger = createLogger('notifications-test', process.env.TEST_LOG_LEVEL ?? 'silent');
/** Short, so a test sees many retries: 100 ms doubling, capped at 400 ms. */
const FAST_RETRY: NotificationRetrySchedule = { attempts: 60, firstDelayMs: 100, maxDelayMs: 400 };

let t: TestDatabase;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});

interface Setup {
  handle: WorkerHandle;
  registry: Registry;
  send: (events: StripeEvent[]) => Promise<void>;
}

async function setup(
  backend: QueueBackend,
  host: NotificationHost | undefined,
  overrides: Partial<StartWorkerOptions> = {},
): Promise<Setup> {
  const queueName = uniqueQueueName('notify');
  const config = await testQueueConfig(backend, t.url);
  const store = openQueueStore(config, { role: 'producer' });
  const queue = openEventQueue(store, queueName);
  const registry = createRegistry('notifications-test');
  const handle = await startWorker({
    queue: config,
    queueName,
    concurrency: 5,
    databaseUrl: t.url,
    jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
    config: defaultBillingConfig,
    logger,
    registry,
    notify: host
      ? { url: host.url, secret: SECRET, timeoutMs: 300, retry: FAST_RETRY, orderWaitMs: 200, maxPerSecond: 1_000, concurrency: 5 }
      : undefined,
    relayScanIntervalMs: 200,
    relayScanAfterMs: 0,
    ...overrides,
  });
  cleanups.push(async () => {
    await handle.close();
    // The worker closed its own copy of the notifications queue.
    const notifications = openNotificationQueue(store, notificationQueueName(queueName));
    await notifications.obliterate({ force: true });
    await notifications.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
  });
  return {
    handle,
    registry,
    send: async (events) => {
      for (const e of events) await enqueueEvent(store, queue, signedJob(e));
    },
  };
}

/** Lifecycles of `count` users (checkout … ended), each user's events in Stripe's order. */
async function histories(label: string, count: number): Promise<StripeEvent[]> {
  const events: StripeEvent[] = [];
  for (let i = 0; i < count; i += 1) {
    const email = `${label}-${i}@example.com`;
    const [user] = await t.db.insert(users).values({ email }).returning();
    events.push(...lifecycle({ email, userId: user!.id, subscriptionId: `sub_${label}${i}`, customerId: `cus_${label}${i}` }));
  }
  return events;
}

const rowsOf = (label: string) => outboxRowsOf(t.sql, label);
const checkDeliveries = (label: string, host: NotificationHost) => checkDeliveriesOf(t.sql, label, host, SECRET);

const allDelivered = (label: string) => async () => {
  const rows = await rowsOf(label);
  return rows.length > 0 && rows.every((row) => row.delivered_at !== null);
};

let host: NotificationHost;
beforeAll(async () => {
  host = await startNotificationHost();
});
afterAll(async () => {
  await host?.close();
});

describeEachBackend('notifications', (backend) => {
  beforeAll(async () => {
    t = await createTestDatabase(`notify_${backend}`);
  });
  afterAll(async () => {
    await t?.drop();
  });
  afterEach(() => {
    host.received.length = 0;
    host.answer = () => 204;
  });

  it('after each commit: every row delivered once, signed, in per-subject order; enqueued_at set on the commit path', async () => {
    // No relay scan: only the commit path can give the rows their jobs.
    const { send, registry } = await setup(backend, host, { relayScanIntervalMs: 0 });
    const events = await histories('commit', 3);
    await send(events);
    await waitFor(allDelivered('commit'), 'every row delivered');
    const figures = await checkDeliveries('commit', host);
    expect(figures).toMatchObject({ delivered: figures.rows, deliveredTwice: 0, lost: 0 });
    expect((await rowsOf('commit')).every((row) => row.enqueued_at !== null)).toBe(true);
    expect(await registry.getSingleMetricAsString('billing_worker_outbox_relayed_total')).not.toMatch(/path="scan"/);
    expect(await registry.getSingleMetricAsString('billing_worker_notifications_delivered_total')).toMatch(
      new RegExp(` ${figures.rows}$`, 'm'),
    );
  });

  it('a worker killed between commit and enqueue (rows committed without a job): the relay scan sends every one', async () => {
    const events = await histories('killed', 2);
    // The batch transaction commits; no worker is there to write the jobs.
    const batch = await applyEvents(t.connection(), events, defaultBillingConfig);
    expect(batch.outboxIds.length).toBeGreaterThan(0);
    expect((await rowsOf('killed')).every((row) => row.enqueued_at === null)).toBe(true);
    const { registry } = await setup(backend, host);
    await waitFor(allDelivered('killed'), 'every row delivered');
    const figures = await checkDeliveries('killed', host);
    expect(figures).toMatchObject({ delivered: batch.outboxIds.length, lost: 0, deliveredTwice: 0 });
    expect(await registry.getSingleMetricAsString('billing_worker_outbox_relayed_total')).toMatch(/path="scan"/);
  });

  it('a host down for the whole first phase, then up: everything arrives, in per-subject order', async () => {
    await host.down();
    try {
      const { send, registry } = await setup(backend, host);
      await send(await histories('down', 3));
      await waitFor(
        async () => /kind="retry"[^}]*} [1-9]/.test(await registry.getSingleMetricAsString('billing_worker_notifications_failed_total')),
        'failed attempts while the host is down',
      );
      expect((await rowsOf('down')).some((row) => row.delivered_at === null)).toBe(true);
    } finally {
      await host.up();
    }
    await waitFor(allDelivered('down'), 'every row delivered once the host is up');
    const figures = await checkDeliveries('down', host);
    expect(figures).toMatchObject({ delivered: figures.rows, lost: 0 });
  });

  it('a host answering 500 then 200: every row delivered, none acknowledged twice', async () => {
    host.answer = (_request, index) => (index < 12 ? 500 : 200);
    await setup(backend, host).then(async ({ send }) => send(await histories('fivehundred', 2)));
    await waitFor(allDelivered('fivehundred'), 'every row delivered');
    const figures = await checkDeliveries('fivehundred', host);
    expect(host.received.filter((r) => r.status === 500)).toHaveLength(12);
    expect(figures).toMatchObject({ delivered: figures.rows, deliveredTwice: 0, lost: 0 });
    expect(figures.sent).toBeGreaterThan(figures.rows);
  });

  it('a host that does not answer in time: the attempt fails, the row is sent again and delivered', async () => {
    const hung = new Set<string>();
    // The first request of each row hangs past the sender's timeout (300 ms here).
    host.answer = (request) => {
      const id = String(request.headers['webhook-id']);
      if (hung.has(id)) return 200;
      hung.add(id);
      return 'hang';
    };
    const { send } = await setup(backend, host);
    await send(await histories('timeout', 1));
    await waitFor(allDelivered('timeout'), 'every row delivered');
    const figures = await checkDeliveries('timeout', host);
    expect(figures).toMatchObject({ delivered: figures.rows, deliveredTwice: 0, lost: 0, sent: 2 * figures.rows });
  });

  it('a revocation by the access clock (no event) is sent after its commit', async () => {
    const [user] = await t.db.insert(users).values({ email: 'clock-0@example.com', stripeCustomerId: 'cus_clock0' }).returning();
    // No relay scan: the clock's commit must hand its rows to the relay itself.
    const { send } = await setup(backend, host, {
      relayScanIntervalMs: 0,
      accessPolicy: { pastDueGraceSeconds: 2 },
      accessClockIntervalMs: 200,
    });
    const now = Math.floor(Date.now() / 1000);
    const subscription = (status: string, created: number) =>
      event('customer.subscription.updated', subscriptionObject({ id: 'sub_clock0', customer: 'cus_clock0', status }), { created });
    await send([subscription('active', now - 10), subscription('past_due', now)]);
    const revoked = async () =>
      (
        await t.sql<{ delivered_at: string | null }[]>`
          select delivered_at from billing_outbox where subject = ${`user:${user!.id}`} and type = 'user.access_revoked' and stripe_event_ids = '{}'`
      )[0]?.delivered_at ?? null;
    await waitFor(revoked, 'the clock’s revocation delivered');
    await waitFor(allDelivered('clock'), 'every row delivered');
    const figures = await checkDeliveries('clock', host);
    expect(figures).toMatchObject({ delivered: figures.rows, deliveredTwice: 0, lost: 0 });
    expect(host.received.map((r) => (JSON.parse(r.body) as { type: string }).type)).toContain('user.access_revoked');
  });

  it('rows the unresolved sweep commits are sent after its commit', async () => {
    // No relay scan: the sweep's commit must hand its rows to the relay itself.
    const { handle } = await setup(backend, host, { relayScanIntervalMs: 0, sweepIntervalMs: 0 });
    const created = event(
      'customer.subscription.created',
      subscriptionObject({ id: 'sub_sweep0', customer: 'cus_sweep0', status: 'active' }),
      { created: Math.floor(Date.now() / 1000) - 60 },
    );
    expect((await applyEvent(t.connection(), created, defaultBillingConfig)).outcome).toBe('unresolved');
    // The host application binds the customer; the sweep applies the event.
    await t.db.insert(users).values({ email: 'sweep-0@example.com', stripeCustomerId: 'cus_sweep0' });
    await handle.sweep();
    await waitFor(allDelivered('sweep'), 'every row delivered');
    const figures = await checkDeliveries('sweep', host);
    expect(figures).toMatchObject({ delivered: figures.rows, deliveredTwice: 0, lost: 0 });
    expect(host.received.map((r) => (JSON.parse(r.body) as { type: string }).type)).toEqual(
      expect.arrayContaining(['subscription.created', 'user.access_granted']),
    );
  });

  it('property: whatever the host answers, and whether rows get their jobs at commit or from the relay scan, each is delivered, in per-subject order', async () => {
    let run = 0;
    // One worker for every run; each run its own users, the host's answers drawn by fast-check.
    const { send: setupSend } = await setup(backend, host);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<HostAnswer>(204, 200, 500, 503, 'hang'), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (answers, users, commitFirst) => {
          run += 1;
          const label = `prop${run}x`;
          host.received.length = 0;
          host.answer = (_request, index) => (index < answers.length ? answers[index]! : 204);
          const events = await histories(label, users);
          // Rows committed with no job (a crash before the relay) or through the worker's commit path.
          if (commitFirst) await applyEvents(t.connection(), events, defaultBillingConfig);
          else await setupSend(events);
          await waitFor(allDelivered(label), 'every row delivered', 30_000);
          const figures = await checkDeliveries(label, host);
          expect(figures).toMatchObject({ delivered: figures.rows, deliveredTwice: 0, lost: 0 });
        },
      ),
      { numRuns: 4 },
    );
  }, 180_000);

  it('without NOTIFY_URL: rows are written, no notifications queue, nothing sent', async () => {
    const { send, handle } = await setup(backend, undefined);
    const events = await histories('quiet', 1);
    await send(events);
    await waitFor(async () => (await rowsOf('quiet')).some((row) => row.type === 'subscription.ended'), 'the history applied');
    expect(handle.notifications).toBeUndefined();
    expect(await handle.relayScan()).toBe(0);
    const rows = await rowsOf('quiet');
    expect(rows.every((row) => row.enqueued_at === null && row.delivered_at === null)).toBe(true);
    expect(host.received).toHaveLength(0);
  });
});
