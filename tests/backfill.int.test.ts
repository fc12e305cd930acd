// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { HANDLED_EVENT_TYPES } from '@billing/billing';
import { webhookEvents } from '@billing/db/schema';
import { enqueueEvent, openEventQueue, openQueueStore, type EventQueue, type QueueConfig, type QueueStore } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { runScript } from '@billing/testing/processes';
import { event, invoiceObject, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { UnrecoverableError } from 'bullmq';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { backfill, formatBackfillReport } from '../scripts/lib/backfill';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { signedJob, testSigner } from '@billing/testing/job-signing';

/** `scripts/backfill.ts` in a child, so the fake Stripe API living here keeps answering. */
const runBackfill = (args: string[], env: Record<string, string>) => runScript('scripts/backfill.ts', args, env, 30_000);

describeEachBackend('backfill against a fake Stripe API and real Postgres', (backend) => {
  let fake: FakeStripeApi;
  let t: TestDatabase;
  let config: QueueConfig;
  let store: QueueStore;
  let queue: EventQueue;
  const now = Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    // The shared fake Stripe API (newest first, later-created first within a second, as Stripe lists); only this key passes.
    fake = await startFakeStripeApi({ apiKeys: ['sk_test_backfill'] });
    t = await createTestDatabase('backfill');
    config = await testQueueConfig(backend, t.url);
    store = openQueueStore(config, { role: 'producer' });
  });
  afterAll(async () => {
    await fake?.close();
    await store?.close();
    await t?.drop();
  });
  beforeEach(() => {
    fake.reset();
    queue = openEventQueue(store, uniqueQueueName('backfill'));
  });
  afterEach(async () => {
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  });

  /** `n` handled events, one every 10 s, starting `ageSeconds` ago, alternating types and shapes. */
  function handledEvents(n: number, ageSeconds: number): StripeEvent[] {
    return Array.from({ length: n }, (_, i) => {
      const shape = i % 2 === 0 ? 'basil' : 'legacy';
      const created = now - ageSeconds + i * 10;
      if (i % 3 === 0)
        return event('invoice.payment_failed', invoiceObject({ subscription: `sub_${i}`, customer: `cus_${i}`, status: 'open', shape }), {
          created,
          shape,
        });
      if (i % 3 === 1)
        return event('invoice.paid', invoiceObject({ subscription: `sub_${i}`, customer: `cus_${i}`, shape }), { created, shape });
      return event('customer.subscription.updated', subscriptionObject({ id: `sub_${i}`, customer: `cus_${i}`, shape }), {
        created,
        shape,
      });
    });
  }

  it('enqueues only what is neither processed nor queued, oldest first, across pages', async () => {
    const handled = handledEvents(230, 3 * 3600); // 3 h ago .. ~2 h 22 m ago: three pages of 100
    const ignoredType = event('customer.created', { id: 'cus_x', object: 'customer' }, { created: now - 3000 });
    const tooOld = event('invoice.paid', invoiceObject({ subscription: 'sub_old', customer: 'cus_old' }), { created: now - 5 * 3600 });
    fake.addEvents([...handled, ignoredType, tooOld]);

    // The worker already applied 100 of them; 5 more are queued (one of those failed for good, its data unsigned:
    // queued before jobs were signed, so the worker refuses it).
    const processed = handled.filter((_, i) => i % 2 === 0).slice(0, 100);
    await t.db
      .insert(webhookEvents)
      .values(processed.map((e) => ({ stripeEventId: e.id, eventType: e.type, outcome: 'applied' as const })));
    const queued = handled.filter((_, i) => i % 2 === 1).slice(0, 5);
    for (const e of queued) await enqueueEvent(store, queue, e);
    const consumer = openQueueStore(config, { role: 'consumer' });
    const failer = consumer.worker(
      queue.name,
      async () => {
        throw new UnrecoverableError('invalid for its type (test)');
      },
      { autorun: false },
    );
    // Fail exactly the first queued job: fetch it by hand with a token.
    const token = 'test-token';
    const job = await failer.getNextJob(token);
    expect(job?.id).toBe(queued[0]!.id);
    await job!.moveToFailed(new UnrecoverableError('refused: the job is not signed by the ingress'), token);
    await failer.close();
    await consumer.close();

    const stripe = createStripeClient('sk_test_backfill', { apiBase: fake.url });
    const since = new Date((now - 4 * 3600) * 1000);
    const report = await backfill({ stripe, db: t.db, store, queue, signer: testSigner }, { since, dryRun: false });

    // Stripe was asked for the handled types since then, 100 a page, following starting_after.
    expect(fake.requests).toHaveLength(3);
    for (const { method, path, query, authorization } of fake.requests) {
      expect(`${method} ${path}`).toBe('GET /v1/events');
      expect(authorization).toBe('Bearer sk_test_backfill');
      expect(query.get('created[gte]')).toBe(String(Math.floor(since.getTime() / 1000)));
      expect(query.get('limit')).toBe('100');
      expect(
        [...query.entries()]
          .filter(([k]) => k.startsWith('types'))
          .map(([, v]) => v)
          .sort(),
      ).toEqual([...HANDLED_EVENT_TYPES].sort());
    }
    expect(fake.requests[0]!.query.get('starting_after')).toBeNull();
    expect(fake.requests[1]!.query.get('starting_after')).toBeTruthy();

    expect(report.found).toBe(230);
    expect(report.alreadyProcessed).toBe(100);
    expect(report.alreadyQueued.map((q) => q.id).sort()).toEqual(
      queued
        .slice(1)
        .map((e) => e.id)
        .sort(),
    );
    // The failed job takes the fetched event, verified by the API and signed now, and waits again with fresh attempts.
    expect(report.retried).toEqual([{ id: queued[0]!.id, type: queued[0]!.type }]);
    const retried = await queue.getJob(queued[0]!.id);
    expect(await retried?.getState()).toBe('waiting');
    expect(retried?.data).toEqual(signedJob(queued[0]!));
    expect(retried?.attemptsMade).toBe(0);
    expect(report.enqueued).toHaveLength(125);
    expect(report.invalid).toEqual([]);

    // Oldest first, and exactly the missing ones.
    const missing = handled.filter((e) => !processed.includes(e) && !queued.includes(e));
    expect(report.enqueued.map((e) => e.id)).toEqual(missing.map((e) => e.id));
    const waiting = await queue.getWaiting(0, -1);
    expect(waiting).toHaveLength(125 + 5);
    // Same queue contract as the ingress: name = type, id = event id, data = the event.
    const sample = await queue.getJob(missing[0]!.id);
    expect(sample?.name).toBe(missing[0]!.type);
    expect(sample?.data).toEqual(signedJob(missing[0]!));
    expect(sample?.opts.attempts).toBe(12);
    expect(await queue.getJob(ignoredType.id)).toBeUndefined();
    expect(await queue.getJob(tooOld.id)).toBeUndefined();

    const text = formatBackfillReport(report);
    expect(text).toMatch(/found\s+230/);
    expect(text).toMatch(/already processed\s+100/);
    expect(text).toMatch(/already queued\s+4/);
    expect(text).toMatch(/retried\s+1/);
    expect(text).toMatch(/enqueued\s+125/);
    expect(text).toContain(`retried ${queued[0]!.id}  ${queued[0]!.type}`);

    // A second run finds nothing more to do.
    const again = await backfill({ stripe, db: t.db, store, queue, signer: testSigner }, { since, dryRun: false });
    expect(again.enqueued).toEqual([]);
    expect(again.alreadyQueued).toHaveLength(130);
  });

  it('enqueues again an event recorded as unresolved whose job has left the queue, and not one with a final outcome', async () => {
    const [unresolved, applied] = handledEvents(2, 600);
    fake.addEvents([unresolved!, applied!]);
    await t.db.insert(webhookEvents).values([
      { stripeEventId: unresolved!.id, eventType: unresolved!.type, outcome: 'unresolved' as const },
      { stripeEventId: applied!.id, eventType: applied!.type, outcome: 'applied' as const },
    ]);
    const report = await backfill(
      { stripe: createStripeClient('sk_test_backfill', { apiBase: fake.url }), db: t.db, store, queue, signer: testSigner },
      { since: new Date((now - 3600) * 1000), dryRun: false },
    );
    expect(report.alreadyProcessed).toBe(1);
    expect(report.enqueued.map((e) => e.id)).toEqual([unresolved!.id]);
    expect((await queue.getWaiting(0, -1)).map((j) => j.id)).toEqual([unresolved!.id]);
  });

  it('--dry-run enqueues nothing', async () => {
    fake.addEvents(handledEvents(3, 600));
    const report = await backfill(
      { stripe: createStripeClient('sk_test_backfill', { apiBase: fake.url }), db: t.db, store, queue, signer: testSigner },
      { since: new Date((now - 3600) * 1000), dryRun: true },
    );
    expect(report.enqueued).toHaveLength(3);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 0 });
    expect(formatBackfillReport(report)).toContain('Dry run: nothing enqueued.');
  });

  it('surfaces a Stripe API error', async () => {
    await expect(
      backfill(
        { stripe: createStripeClient('sk_test_wrong', { apiBase: fake.url }), db: t.db, store, queue, signer: testSigner },
        { since: new Date((now - 3600) * 1000), dryRun: false },
      ),
    ).rejects.toThrow(/Invalid API Key/);
  });

  it('a run stopped after a page resumes after it, with its own window: every missing event enqueued once, no page asked twice', async () => {
    await t.sql`delete from reconcile_runs`;
    const handled = handledEvents(250, 3 * 3600);
    fake.addEvents(handled);
    const stripe = createStripeClient('sk_test_backfill', { apiBase: fake.url });
    const since = new Date((now - 4 * 3600) * 1000);
    const deps = { stripe, db: t.db, sql: t.sql, store, queue, signer: testSigner };
    const stop = new Error('killed after the first page (test)');
    await expect(
      backfill(
        {
          ...deps,
          afterPage: () => {
            throw stop;
          },
        },
        { since, dryRun: false },
      ),
    ).rejects.toBe(stop);
    const [stopped] = await t.sql`select cursor, pages, finished_at from reconcile_runs where sweep = 'events'`;
    expect(stopped).toMatchObject({ pages: 1, finished_at: null });
    const first = await queue.getWaiting(0, -1);
    expect(first).toHaveLength(100);

    const before = fake.requests.length;
    // Started again with another --since: the stopped run's window and cursor win.
    const resumed = await backfill(deps, { since: new Date((now - 3600) * 1000), dryRun: false });
    expect(resumed.resumedAfterPages).toBe(1);
    expect(resumed.since).toEqual(since);
    const asked = fake.requests.slice(before);
    expect(asked[0]!.query.get('starting_after')).toBe(stopped!.cursor);
    expect(asked[0]!.query.get('created[gte]')).toBe(String(Math.floor(since.getTime() / 1000)));
    expect(resumed.enqueued).toHaveLength(150);
    expect(resumed.alreadyQueued).toEqual([]);
    const all = (await queue.getWaiting(0, -1)).map((j) => j.id).sort();
    expect(all).toEqual(handled.map((e) => e.id).sort());
    expect(formatBackfillReport(resumed)).toMatch(/^Resumed a stopped backfill after its 1 page/);
    const [done] = await t.sql`select count(*)::int as n from reconcile_runs where finished_at is null`;
    expect(done?.n).toBe(0);
  });

  it('the CLI runs end to end and prints the counts', async () => {
    fake.addEvents(handledEvents(2, 600));
    const result = await runBackfill(['--since', '1h'], {
      STRIPE_SECRET_KEY: 'sk_test_backfill',
      STRIPE_API_BASE: fake.url,
      DATABASE_URL: t.url,
      ...queueEnvOf(config),
      QUEUE_NAME: queue.name,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/found\s+2/);
    expect(result.stdout).toMatch(/enqueued\s+2/);
  });

  it('the CLI refuses a start older than 30 days, and a missing key, with one clear message', async () => {
    const old = await runBackfill(['--since', '45d'], { STRIPE_SECRET_KEY: 'sk_test_backfill' });
    expect(old.status).toBe(2);
    expect(old.stderr).toMatch(/^backfill: --since .* is older than Stripe's 30-day event window/);
    const noKey = await runBackfill(['--since', '6h'], {});
    expect(noKey.status).toBe(1);
    expect(noKey.stderr.trim()).toBe('backfill: STRIPE_SECRET_KEY is required');
  });
});
