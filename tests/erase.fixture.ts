// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { billingAccess, billingOutbox, customerEntitlements, subscriptions, users, webhookEvents } from '@billing/db/schema';
import { openQueueStore, type EventQueue, type QueueConfig, type StripeEventJobData } from '@billing/queue';
import type { TestDatabase } from '@billing/testing/database';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { event, stripeId, type StripeEvent } from '@billing/stripe-simulator/events';
import { UnrecoverableError } from 'bullmq';
import { Redis } from 'ioredis';
import { asc } from 'drizzle-orm';
import pg from 'pg';
import { expect, vi } from 'vitest';

/** A person as the worker would have left them: a user, two subscriptions, ledger rows and jobs. */
export interface SeededPerson {
  email: string;
  customer: string;
  userId: number;
  subscriptions: string[];
  checkout: StripeEvent;
  invoice: StripeEvent;
}

function checkoutOf(person: { email: string; customer: string }, subscription: string, emailCase = (e: string) => e): StripeEvent {
  return event('checkout.session.completed', {
    id: stripeId('cs'),
    object: 'checkout.session',
    mode: 'subscription',
    customer: person.customer,
    subscription,
    customer_email: emailCase(person.email),
    customer_details: { email: emailCase(person.email), name: 'Kept out by minimiseEvent' },
    metadata: {},
    payment_status: 'paid',
    status: 'complete',
  });
}

/** Rows of a person: their user, two subscriptions, a ledger row per subscription and one unresolved row holding its event. */
export async function seedPerson(t: TestDatabase, name: string): Promise<SeededPerson> {
  const email = `${name}-${stripeId('x').slice(2, 8).toLowerCase()}@example.com`;
  const customer = stripeId('cus');
  const [user] = await t.db.insert(users).values({ email, stripeCustomerId: customer, subscriptionStatus: 'active' }).returning();
  const ids = [stripeId('sub'), stripeId('sub')];
  await t.db.insert(subscriptions).values(
    ids.map((id) => ({
      userId: user!.id,
      stripeCustomerId: customer,
      stripeSubscriptionId: id,
      planSlug: 'pro',
      period: 'monthly',
      status: 'active',
    })),
  );
  const checkout = checkoutOf({ email, customer }, ids[0]!);
  const invoice = event('invoice.paid', { id: stripeId('in'), object: 'invoice', customer: { id: customer }, subscription: ids[1] });
  await t.db.insert(webhookEvents).values([
    { stripeEventId: checkout.id, eventType: checkout.type, stripeSubscriptionId: ids[0], stripeCustomerId: customer, outcome: 'applied' },
    {
      stripeEventId: stripeId('evt'),
      eventType: 'customer.subscription.updated',
      stripeSubscriptionId: ids[1],
      stripeCustomerId: customer,
      outcome: 'applied',
    },
    {
      stripeEventId: stripeId('evt'),
      eventType: 'customer.subscription.created',
      stripeSubscriptionId: ids[1],
      stripeCustomerId: customer,
      outcome: 'unresolved',
      unresolvedInput: { customerId: customer },
    },
  ]);
  // What the host contract holds of them: outbox rows of the user and a subscription, the access decision, the entitlements.
  const told = (subject: string, type: 'user.access_granted' | 'subscription.created', sequence: number) => ({
    type,
    subject,
    sequence,
    userId: user!.id,
    stripeSubscriptionId: subject.startsWith('sub_') ? subject : null,
    stripeCustomerId: customer,
    data: { customer_id: customer, user_id: user!.id },
    stripeEventIds: [checkout.id],
    occurredAt: new Date(),
  });
  await t.db.insert(billingOutbox).values([told(ids[0]!, 'subscription.created', 1), told(`user:${user!.id}`, 'user.access_granted', 1)]);
  await t.db
    .insert(billingAccess)
    .values({ userId: user!.id, hasAccess: true, planSlug: 'pro', reason: 'active', entitlements: ['export'] });
  await t.db
    .insert(customerEntitlements)
    .values({ stripeCustomerId: customer, lookupKeys: ['export'], summaryAt: new Date(), stripeEventId: stripeId('evt'), complete: true });
  return { email, customer, userId: user!.id, subscriptions: ids, checkout, invoice };
}

/** A later checkout of the person, waiting in the queue: its email upper-cased, as Stripe may send it. */
export function laterCheckout(person: SeededPerson): StripeEvent {
  return checkoutOf(person, person.subscriptions[1]!, (e) => e.toUpperCase());
}

/**
 * Stands in for the worker: completes every job but `failing`, which fails with a reason naming
 * the email and the customer id as given (as a Drizzle error's parameters would); the ledger rows are seeded apart.
 */
export async function runJobs(
  config: QueueConfig,
  queue: EventQueue,
  events: StripeEvent[],
  failing: StripeEvent,
  mentions: { email: string; customer: string },
): Promise<void> {
  for (const e of events) await queue.add(e.type, signedJob(e), { jobId: e.id });
  await standIn(
    config,
    queue,
    async (job) => {
      if (job.id === failing.id) throw new UnrecoverableError(`insert failed, params: ${mentions.email}, ${mentions.customer}`);
      return { outcome: 'applied' };
    },
    async () =>
      expect(await Promise.all(events.map((e) => queue.getJobState(e.id)))).toEqual(
        events.map((e) => (e.id === failing.id ? 'failed' : 'completed')),
      ),
  );
}

/** Stands in for the worker's first step: completes the job if its signature verifies (the worker's own check), fails it if not. */
export async function workOffVerified(config: QueueConfig, queue: EventQueue, id: string): Promise<void> {
  await standIn(
    config,
    queue,
    async (job) => {
      const verified = testSigner.verify(job.data);
      if (!verified.ok) throw new UnrecoverableError(`refused: ${verified.reason}`);
      return { outcome: 'unresolved' };
    },
    async () => expect(await queue.getJobState(id)).toMatch(/completed|failed/),
  );
  expect(await queue.getJobState(id)).toBe('completed');
}

/** Runs `processor` on the queue's jobs until `done` passes. */
async function standIn(
  config: QueueConfig,
  queue: EventQueue,
  processor: (job: { id?: string; data: StripeEventJobData }) => Promise<{ outcome: string }>,
  done: () => Promise<unknown>,
): Promise<void> {
  const store = openQueueStore(config, { role: 'consumer' });
  const stand = store.worker<StripeEventJobData, { outcome: string }>(queue.name, processor, { autorun: false });
  void stand.run();
  await vi.waitFor(done, { timeout: 20_000 });
  await stand.close();
  await store.close();
}

/**
 * Every place the queue keeps something of its jobs, with its raw content, read past BullMQ: on
 * Redis each key (hash fields, stream entries, members); on Postgres each row of BullMQ's job,
 * event and log tables of the queue. Named `jobPlace(id)` for a job's own.
 */
export async function rawQueue(config: QueueConfig, queueName: string): Promise<Map<string, string>> {
  if (config.backend === 'postgres') {
    const client = new pg.Client({ connectionString: config.url });
    await client.connect();
    try {
      const content = new Map<string, string>();
      const schema = `"${config.schema}"`;
      const jobs = await client.query(`select id, to_jsonb(j) - 'queue' as row from ${schema}.job j where queue = $1 order by id`, [
        queueName,
      ]);
      for (const r of jobs.rows as Array<{ id: string; row: unknown }>) content.set(`job:${r.id}`, JSON.stringify(r.row));
      const events = await client.query(`select id, event, data from ${schema}.event where queue = $1 order by id`, [queueName]);
      for (const r of events.rows as Array<{ id: string; event: string; data: unknown }>)
        content.set(`event:${r.id}`, JSON.stringify([r.event, r.data]));
      const logs = await client.query(`select job_id, idx, row from ${schema}.job_log where queue = $1 order by job_id, idx`, [queueName]);
      for (const r of logs.rows as Array<{ job_id: string; idx: number; row: string }>)
        content.set(`log:${r.job_id}:${r.idx}`, JSON.stringify(r.row));
      return content;
    } finally {
      await client.end();
    }
  }
  const redis = new Redis(config.redis.url);
  try {
    return await rawRedis(redis, queueName);
  } finally {
    redis.disconnect();
  }
}

/** Where `rawQueue` names a job's own record. */
export function jobPlace(config: QueueConfig, queueName: string, id: string): string {
  return config.backend === 'postgres' ? `job:${id}` : `bull:${queueName}:${id}`;
}

async function rawRedis(redis: Redis, queueName: string): Promise<Map<string, string>> {
  const keys = (await redis.keys(`bull:${queueName}:*`)).sort();
  const content = new Map<string, string>();
  for (const key of keys) {
    const type = await redis.type(key);
    const value =
      type === 'hash'
        ? await redis.hgetall(key)
        : type === 'stream'
          ? await redis.xrange(key, '-', '+')
          : type === 'list'
            ? await redis.lrange(key, '0', '-1')
            : type === 'zset'
              ? await redis.zrange(key, '0', '-1')
              : type === 'set'
                ? await redis.smembers(key)
                : type === 'string'
                  ? await redis.get(key)
                  : type;
    content.set(key, JSON.stringify(value));
  }
  return content;
}

/** The keys whose raw content contains `text` (any case). */
export function keysHolding(raw: Map<string, string>, text: string): string[] {
  return [...raw].filter(([, value]) => value.toLowerCase().includes(text.toLowerCase())).map(([key]) => key);
}

/** The tables erase touches, in a stable order, to compare before and after. */
export async function tables(t: TestDatabase) {
  return {
    users: await t.db.select().from(users).orderBy(asc(users.id)),
    subscriptions: await t.db.select().from(subscriptions).orderBy(asc(subscriptions.id)),
    ledger: await t.db.select().from(webhookEvents).orderBy(asc(webhookEvents.id)),
    outbox: await t.db.select().from(billingOutbox).orderBy(asc(billingOutbox.id)),
    access: await t.db.select().from(billingAccess).orderBy(asc(billingAccess.userId)),
    entitlements: await t.db.select().from(customerEntitlements).orderBy(asc(customerEntitlements.stripeCustomerId)),
  };
}
