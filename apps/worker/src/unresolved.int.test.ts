import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyEvent, defaultBillingConfig } from '@billing/billing';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import { enqueueEvent, openEventQueue, openQueueStore, type EventQueue } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, type Registry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, testQueueConfig, uniqueQueueName, type QueueBackend } from '@billing/testing/test-queue';
import { checkoutSessionObject, event, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { waitFor } from '@billing/testing/wait-for';
import { stripeEventFetcher } from './stripe-event-fetcher';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from './worker';
import { signedJob, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';

/**
 * "No unresolved event stays unresolved once its customer is known" — every path, through a real
 * worker: the linking event's own transaction, the host application binding the customer (the
 * sweep), and rows recorded before the ledger kept events (their job, else the Events API).
 */

let t: TestDatabase;
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => {});
});
/** A fresh database for the enclosing suite (each backend's suite has its own: the same ids in both). */
function useDatabase(label: string): void {
  beforeAll(async () => {
    t = await createTestDatabase(label);
  });
  afterAll(async () => {
    await t?.drop();
  });
}

interface Setup {
  queue: EventQueue;
  handle: WorkerHandle;
  registry: Registry;
  lines: Array<Record<string, unknown>>;
  send: (e: StripeEvent) => Promise<void>;
}

async function setup(backend: QueueBackend, overrides: Partial<StartWorkerOptions> = {}): Promise<Setup> {
  const queueName = overrides.queueName ?? uniqueQueueName('unresolved');
  const config = await testQueueConfig(backend, t.url);
  const store = openQueueStore(config, { role: 'producer' });
  const queue = openEventQueue(store, queueName);
  const registry = createRegistry('unresolved-test');
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger('unresolved-test', 'info', {
    write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  const handle = await startWorker({
    queue: config,
    queueName,
    databaseUrl: t.url,
    jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
    config: defaultBillingConfig,
    logger,
    registry,
    sweepIntervalMs: 0,
    ...overrides,
  });
  cleanups.push(async () => {
    await handle.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
  });
  return { queue, handle, registry, lines, send: async (e) => void (await enqueueEvent(store, queue, signedJob(e))) };
}

const ledgerRow = async (id: string) => (await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, id)))[0];
const subscriptionRow = async (id: string) =>
  (await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, id)))[0];
const addUser = async (email: string, stripeCustomerId: string | null = null) =>
  (await t.db.insert(users).values({ email, stripeCustomerId }).returning())[0]!;
const T0 = 1_790_000_000;

const sweepHolder = async () =>
  (await t.sql<Array<{ holder: string | null }>>`select holder from worker_leases where name = 'unresolved-sweep'`)[0]?.holder ?? null;

describeEachBackend('unresolved events', (backend) => {
  useDatabase('unresolved_' + backend);
  it('are applied in the very transaction that links their customer, whatever became of their job', async () => {
    const { send, queue } = await setup(backend);
    const user = await addUser('linked@example.com');
    // Recorded unresolved without any job in the queue at all (gone, or still held active elsewhere).
    const created = event(
      'customer.subscription.created',
      subscriptionObject({ id: 'sub_linked', customer: 'cus_linked', status: 'trialing' }),
      { created: T0 },
    );
    const connection = t.connection();
    expect((await applyEvent(connection, created, defaultBillingConfig)).outcome).toBe('unresolved');
    expect(await queue.getJob(created.id)).toBeUndefined();
    const checkout = event(
      'checkout.session.completed',
      checkoutSessionObject({ subscription: 'sub_linked', customer: 'cus_linked', customerEmail: 'linked@example.com' }),
      { created: T0 + 1 },
    );
    await send(checkout);
    await waitFor(async () => (await ledgerRow(created.id))?.outcome === 'applied', 'the unresolved event applied');
    const [a, b] = [await ledgerRow(created.id), await ledgerRow(checkout.id)];
    // One transaction: Postgres's now() is the transaction's start, the same for both rows.
    expect(a?.processedAt.getTime()).toBe(b?.processedAt.getTime());
    expect(a?.unresolvedInput).toBeNull();
    expect(await subscriptionRow('sub_linked')).toMatchObject({ userId: user.id, status: 'trialing' });
  });

  it('are applied by the sweep once the host application binds the customer, with no event of theirs since', async () => {
    const { handle } = await setup(backend, { sweepIntervalMs: 0 });
    const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_host', customer: 'cus_host', status: 'active' }), {
      created: T0,
    });
    expect((await applyEvent(t.connection(), created, defaultBillingConfig)).outcome).toBe('unresolved');
    await handle.sweep();
    expect((await ledgerRow(created.id))?.outcome).toBe('unresolved'); // nobody has that customer yet
    const user = await addUser('host@example.com', 'cus_host');
    await handle.sweep();
    expect((await ledgerRow(created.id))?.outcome).toBe('applied');
    expect(await subscriptionRow('sub_host')).toMatchObject({ userId: user.id, status: 'active' });
    expect((await t.db.select().from(users).where(eq(users.id, user.id)))[0]?.subscriptionStatus).toBe('active');
  });

  it('the sweep runs in one worker at a time (two at once: one sweeps, the other skips)', async () => {
    const first = await setup(backend, { sweepIntervalMs: 60_000 });
    const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_once', customer: 'cus_once' }), { created: T0 });
    expect((await applyEvent(t.connection(), created, defaultBillingConfig)).outcome).toBe('unresolved');
    await addUser('once@example.com', 'cus_once');
    // Two workers of one queue: whichever takes the sweep's lease sweeps; the other skips.
    const second = await setup(backend, { queueName: first.queue.name, sweepIntervalMs: 60_000 });
    const held: string[] = [];
    const watch = setInterval(() => void sweepHolder().then((v) => v && held.push(v)), 1);
    await Promise.all([first.handle.sweep(), second.handle.sweep()]);
    clearInterval(watch);
    const swept = (lines: Array<Record<string, unknown>>) =>
      lines.filter((l) => l.eventId === created.id && String(l.msg).includes('by the sweep'));
    expect(swept(first.lines).length + swept(second.lines).length).toBe(1);
    expect(new Set(held).size).toBeLessThanOrEqual(1); // one owner of the sweep at any moment
    expect((await ledgerRow(created.id))?.outcome).toBe('applied');
    expect(await sweepHolder()).toBeNull(); // released when the sweep ended
  });

  it('the sweep holds its lease only while it sweeps: a worker started right after (a restart, a shorter interval) sweeps at once', async () => {
    const first = await setup(backend, { sweepIntervalMs: 300_000 });
    await first.handle.sweep();
    await first.handle.close();
    const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_restart', customer: 'cus_restart' }), {
      created: T0,
    });
    expect((await applyEvent(t.connection(), created, defaultBillingConfig)).outcome).toBe('unresolved');
    await addUser('restart@example.com', 'cus_restart');
    const restarted = await setup(backend, { sweepIntervalMs: 1_000 });
    await waitFor(
      async () => (await ledgerRow(created.id))?.outcome === 'applied',
      'swept by the restarted worker within its own interval',
      10_000,
    );
    expect(restarted.lines.some((l) => l.eventId === created.id && String(l.msg).includes('by the sweep'))).toBe(true);
  });

  describe('recorded before the ledger kept their event', () => {
    const legacyRow = async (id: string, customer: string, subscription: string) =>
      t.db.insert(webhookEvents).values({
        stripeEventId: id,
        eventType: 'customer.subscription.created',
        stripeCustomerId: customer,
        stripeSubscriptionId: subscription,
        outcome: 'unresolved',
      });

    it('run again from their job when it is still in the queue', async () => {
      const { queue, send } = await setup(backend);
      await addUser('legacyjob@example.com');
      const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_legacyjob', customer: 'cus_legacyjob' }), {
        created: T0,
      });
      await legacyRow(created.id, 'cus_legacyjob', 'sub_legacyjob');
      await queue.add(created.type, signedJob(created), { jobId: created.id }); // completed long ago, say
      await waitFor(async () => (await queue.getJobState(created.id)) === 'completed', 'the old job completed');
      await send(
        event(
          'checkout.session.completed',
          checkoutSessionObject({ subscription: 'sub_legacyjob', customer: 'cus_legacyjob', customerEmail: 'legacyjob@example.com' }),
          { created: T0 + 1 },
        ),
      );
      await waitFor(async () => (await ledgerRow(created.id))?.outcome === 'applied', 'applied from its job');
      expect((await subscriptionRow('sub_legacyjob'))?.snapshotAt).toEqual(new Date(T0 * 1000));
    });

    describe('whose job has left the queue', () => {
      let server: Server;
      let base: string;
      const stored = new Map<string, StripeEvent>();
      beforeAll(async () => {
        server = createServer((req, res) => {
          const found = stored.get(req.url?.split('/').pop() ?? '');
          if (!found)
            return void res
              .writeHead(404, { 'content-type': 'application/json' })
              .end('{"error":{"type":"invalid_request_error","message":"No such event"}}');
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(found));
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      });
      afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

      it('are fetched from the Events API and applied', async () => {
        const { send } = await setup(backend, { fetchEvent: stripeEventFetcher({ secretKey: 'sk_test_events', apiBase: base }) });
        await addUser('legacyapi@example.com');
        const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_legacyapi', customer: 'cus_legacyapi' }), {
          created: T0,
        });
        stored.set(created.id, created);
        await legacyRow(created.id, 'cus_legacyapi', 'sub_legacyapi');
        await send(
          event(
            'checkout.session.completed',
            checkoutSessionObject({ subscription: 'sub_legacyapi', customer: 'cus_legacyapi', customerEmail: 'legacyapi@example.com' }),
            { created: T0 + 1 },
          ),
        );
        await waitFor(async () => (await ledgerRow(created.id))?.outcome === 'applied', 'applied from the Events API');
      });

      it('without a way to get them back: one alert line and a metric, the linking event unharmed', async () => {
        const { send, lines, registry } = await setup(backend);
        await addUser('legacylost@example.com');
        await legacyRow('evt_legacylost', 'cus_legacylost', 'sub_legacylost');
        const checkout = event(
          'checkout.session.completed',
          checkoutSessionObject({ subscription: 'sub_legacylost', customer: 'cus_legacylost', customerEmail: 'legacylost@example.com' }),
          { created: T0 + 1 },
        );
        await send(checkout);
        await waitFor(async () => lines.some((l) => l.alert === 'unresolved_event_unrecoverable'), 'the alert line');
        expect(lines.filter((l) => l.alert === 'unresolved_event_unrecoverable')).toEqual([
          expect.objectContaining({ eventId: 'evt_legacylost' }),
        ]);
        expect(await registry.getSingleMetricAsString('billing_worker_unresolved_unrecoverable_total')).toMatch(/ 1$/m);
        expect((await ledgerRow(checkout.id))?.outcome).toBe('applied');
      });
    });
  });
});
