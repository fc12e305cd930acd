import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import { enqueueEvent, openEventQueue, openQueueStore, type EventQueue, type StripeEventJobData } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, queueBackends, testQueueConfig, uniqueQueueName, type QueueBackend } from '@billing/testing/test-queue';
import { checkoutSessionObject, event, lifecycle, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { startTcpProxy } from '@billing/testing/tcp-proxy';
import { waitFor } from '@billing/testing/wait-for';
import { stripeSubscriptionFetcher } from './stripe-subscription-fetcher';
import { startWorker, type StartWorkerOptions, type WorkerHandle } from './worker';
import { signedJob, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';

const logger = createLogger('worker-test', process.env.TEST_LOG_LEVEL ?? 'silent');
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

/** A worker on `backend` (on Postgres, the queue in the test database), a queue of its own, and a way to send it signed events. */
async function setup(
  backend: QueueBackend,
  overrides: Partial<StartWorkerOptions> = {},
): Promise<{ queue: EventQueue; handle: WorkerHandle; send: (e: StripeEvent) => Promise<void> }> {
  const queueName = uniqueQueueName('worker');
  const config = await testQueueConfig(backend, t.url);
  const store = openQueueStore(config, { role: 'producer' });
  const queue = openEventQueue(store, queueName);
  const handle = await startWorker({
    queue: config,
    queueName,
    concurrency: 5,
    databaseUrl: t.url,
    jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
    config: defaultBillingConfig,
    logger,
    registry: createRegistry('worker-test'),
    ...overrides,
  });
  cleanups.push(async () => {
    await handle.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
  });
  return { queue, handle, send: async (e) => void (await enqueueEvent(store, queue, signedJob(e))) };
}

const jobState = (queue: EventQueue, id: string) => queue.getJobState(id);
const outcomeOf = async (id: string) => (await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, id)))[0]?.outcome;
const subscriptionRow = async (id: string) =>
  (await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, id)))[0];
const addUser = async (email: string, stripeCustomerId: string | null = null) =>
  (await t.db.insert(users).values({ email, stripeCustomerId }).returning())[0]!;

describeEachBackend('worker', (backend) => {
  useDatabase('worker_' + backend);
  it('applies a queued lifecycle and reports it in metrics', async () => {
    const registry = createRegistry('worker-test');
    const { queue, send } = await setup(backend, { registry });
    const user = await addUser('flow@example.com');
    const events = lifecycle({ email: 'flow@example.com', userId: user.id, subscriptionId: 'sub_flow', customerId: 'cus_flow' });
    for (const e of events) await send(e);
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === events.length, 'all jobs completed');
    expect(await subscriptionRow('sub_flow')).toMatchObject({ status: 'canceled', userId: user.id });
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/billing_worker_events_total\{type="customer.subscription.deleted",outcome="applied",app="worker-test"\} 1/);
    expect(metrics).toMatch(/billing_queue_jobs\{state="completed",app="worker-test"\} 6/);
  });

  it('refuses a job the ingress did not sign — written straight into the queue, or edited since — at once, with an alert, writing nothing', async () => {
    const registry = createRegistry('worker-forged');
    const { queue } = await setup(backend, { registry });
    await addUser('victim@example.com');
    // A paid subscription minted by hand: no Stripe signature, no ingress.
    const forged = event(
      'checkout.session.completed',
      checkoutSessionObject({ subscription: 'sub_forged', customer: 'cus_forged', customerEmail: 'victim@example.com' }),
    );
    await queue.add(forged.type, forged as StripeEventJobData, { jobId: forged.id });
    // A signed job whose event was edited in the queue afterwards (Bull Board's update-data, HSET, UPDATE).
    const genuine = event(
      'customer.subscription.created',
      subscriptionObject({ id: 'sub_edited', customer: 'cus_edited', status: 'incomplete' }),
    );
    const added = await queue.add(genuine.type, signedJob(genuine), { jobId: genuine.id, delay: 60_000 });
    await added.updateData({ ...signedJob(genuine), data: { object: { ...genuine.data.object, status: 'active' } } });
    await added.promote();
    await waitFor(
      async () => (await jobState(queue, forged.id)) === 'failed' && (await jobState(queue, genuine.id)) === 'failed',
      'both refused',
    );
    expect((await queue.getJob(forged.id))!.failedReason).toBe('refused: the job is not signed by the ingress');
    expect((await queue.getJob(genuine.id))!.failedReason).toBe(
      'refused: the job’s signature does not match its event (changed since the ingress signed it, or another key)',
    );
    expect((await queue.getJob(forged.id))!.attemptsMade).toBe(1);
    expect(await outcomeOf(forged.id)).toBeUndefined();
    expect(await outcomeOf(genuine.id)).toBeUndefined();
    expect(await t.db.select().from(subscriptions).where(eq(subscriptions.stripeSubscriptionId, 'sub_forged'))).toEqual([]);
    expect(await registry.getSingleMetricAsString('billing_worker_failures_total')).toMatch(
      /type="checkout\.session\.completed",kind="final",app="worker-forged"\} 1$/m,
    );
  });

  it('fails an invalid event at once, without retries, with a readable reason', async () => {
    const { queue, send } = await setup(backend);
    const bad = event('customer.subscription.updated', { id: 'in_123', object: 'invoice' });
    await send(bad);
    await waitFor(async () => (await jobState(queue, bad.id)) === 'failed', 'job failed');
    const job = (await queue.getJob(bad.id))!;
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toBe('customer.subscription.updated: data.object is a invoice, expected subscription');
    expect(await outcomeOf(bad.id)).toBeUndefined();
  });

  it('an outage longer than the whole retry window fails no event: the worker pauses, says why, and resumes by itself', async () => {
    const target = new URL(t.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const proxied = new URL(t.url);
    proxied.port = String(proxy.port);
    cleanups.push(() => proxy.close());
    const registry = createRegistry('worker-outage');
    const { queue, handle } = await setup(backend, { databaseUrl: proxied.toString(), registry });
    await addUser('outage@example.com', 'cus_outage');
    proxy.cut();
    const events = Array.from({ length: 10 }, (_, i) =>
      event('customer.subscription.created', subscriptionObject({ id: `sub_outage${i}`, customer: 'cus_outage' })),
    );
    // A retry window of about 0.7 s (3 attempts, 100 ms doubling), for an outage of 5 s.
    for (const e of events)
      await queue.add(e.type, signedJob(e), { jobId: e.id, attempts: 3, backoff: { type: 'exponential', delay: 100 } });
    await waitFor(async () => !handle.readiness().ready, 'the worker reports itself paused');
    expect(handle.readiness()).toMatchObject({ ready: false, reason: expect.stringMatching(/^postgres unreachable: /) });
    expect(await registry.getSingleMetricAsString('billing_worker_paused')).toMatch(/billing_worker_paused\{app="worker-outage"\} 1$/m);
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    expect((await queue.getJobCounts('failed')).failed).toBe(0);
    await proxy.restore();
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === events.length, 'all applied after recovery', 30_000);
    expect(handle.readiness()).toEqual({ ready: true });
    expect((await queue.getJobCounts('failed')).failed).toBe(0);
    const jobs = await Promise.all(events.map(async (e) => (await queue.getJob(e.id))!));
    // BullMQ counts the successful attempt too: one attempt each, none spent by the outage…
    expect(jobs.map((j) => [j.attemptsMade, j.failedReason ?? null])).toEqual(events.map(() => [1, null]));
    // …though they did start during it, and were put back.
    expect(Math.max(...jobs.map((j) => j.attemptsStarted))).toBeGreaterThan(1);
    for (const e of events) expect(await outcomeOf(e.id)).toBe('applied');
  });

  it('a database link that stops answering mid-batch (frozen, not closed) does not hold the jobs: the batch is abandoned after the lock duration and applied once the link answers', async () => {
    const target = new URL(t.url);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const proxied = new URL(t.url);
    proxied.port = String(proxy.port);
    cleanups.push(() => proxy.close());
    const lines: string[] = [];
    const { queue, send } = await setup(backend, {
      databaseUrl: proxied.toString(),
      lockDurationMs: 2_000,
      logger: createLogger('worker-frozen', 'info', { write: (line: string) => void lines.push(line) }),
    });
    await addUser('frozen@example.com', 'cus_frozen');
    const warm = event('customer.subscription.created', subscriptionObject({ id: 'sub_frozen_warm', customer: 'cus_frozen' }));
    await send(warm);
    await waitFor(async () => (await jobState(queue, warm.id)) === 'completed', 'the connections open');
    proxy.freeze(); // both directions held: a query sent now is never answered, the socket stays open
    const events = Array.from({ length: 5 }, (_, i) =>
      event('customer.subscription.created', subscriptionObject({ id: `sub_frozen${i}`, customer: 'cus_frozen' })),
    );
    for (const e of events) await send(e);
    await waitFor(async () => lines.some((l) => l.includes('a batch stalled on its connection')), 'the stalled batch abandoned', 20_000);
    proxy.thaw();
    await waitFor(
      async () => (await Promise.all(events.map((e) => jobState(queue, e.id)))).every((s) => s === 'completed'),
      'all applied once the link answers',
      30_000,
    );
    for (const e of events) expect(await outcomeOf(e.id)).toBe('applied');
    expect((await queue.getJobCounts('failed')).failed).toBe(0);
    // No attempt spent: the abandoned batch is the connection's fault, not the events'.
    expect((await Promise.all(events.map(async (e) => (await queue.getJob(e.id))!.attemptsMade))).every((n) => n <= 1)).toBe(true);
  });

  it('re-runs events that were unresolved once a checkout links their customer', async () => {
    const { queue, send } = await setup(backend);
    const user = await addUser('late@example.com');
    const [checkout, created] = lifecycle({ email: 'late@example.com', subscriptionId: 'sub_late', customerId: 'cus_late' });
    await send(created!);
    await waitFor(async () => (await outcomeOf(created!.id)) === 'unresolved', 'created event unresolved');
    await send(checkout!);
    await waitFor(async () => (await outcomeOf(created!.id)) === 'applied', 'created event re-run and applied');
    expect(await subscriptionRow('sub_late')).toMatchObject({ userId: user.id, status: 'active' });
    expect((await subscriptionRow('sub_late'))?.currentPeriodEnd).not.toBeNull();
    expect(await jobState(queue, created!.id)).toBe('completed');
  });
});

describe('Stripe API enrichment against a local fake', () => {
  const backend = queueBackends()[0]!;
  useDatabase('worker_enrichment');
  let server: Server;
  let base: string;
  let failing = false;
  const requests: string[] = [];
  const END = 1_900_000_000;

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      if (failing)
        return void res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"message":"boom","type":"api_error"}}');
      const id = req.url?.split('/').pop() ?? '';
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(subscriptionObject({ id, customer: 'cus_fake', currentPeriodEnd: END })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const applyOptions = () => ({
    fetchSubscription: stripeSubscriptionFetcher({ secretKey: 'sk_test_fake', apiBase: base, timeoutMs: 1_000 }),
    onEnrichmentError: () => {},
  });

  it('fills current_period_end on checkout from GET /v1/subscriptions/:id', async () => {
    const { send, queue } = await setup(backend, { applyOptions: applyOptions() });
    await addUser('rich@example.com', 'cus_fake');
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_rich', customer: 'cus_fake' }));
    await send(e);
    await waitFor(async () => (await jobState(queue, e.id)) === 'completed', 'checkout applied');
    expect((await subscriptionRow('sub_rich'))?.currentPeriodEnd).toEqual(new Date(END * 1000));
    expect(requests.some((r) => r.startsWith('GET /v1/subscriptions/sub_rich Bearer sk_test_fake'))).toBe(true);
  });

  it('applies the event anyway when the API fails', async () => {
    failing = true;
    const { send, queue } = await setup(backend, { applyOptions: applyOptions() });
    await addUser('poor@example.com', 'cus_poor');
    const e = event('checkout.session.completed', checkoutSessionObject({ subscription: 'sub_poor', customer: 'cus_poor' }));
    await send(e);
    await waitFor(async () => (await jobState(queue, e.id)) === 'completed', 'checkout applied');
    expect(await subscriptionRow('sub_poor')).toMatchObject({ status: 'active', currentPeriodEnd: null });
  });
});
