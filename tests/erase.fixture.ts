// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import { createEventQueue, workerConnection, type EventQueue, type StripeEventJobData } from '@billing/queue';
import type { TestDatabase } from '@billing/testing/database';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { event, stripeId, type StripeEvent } from '@billing/stripe-simulator/events';
import { UnrecoverableError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { asc } from 'drizzle-orm';
import { expect, inject, vi } from 'vitest';

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
  return { email, customer, userId: user!.id, subscriptions: ids, checkout, invoice };
}

/** A later checkout of the person, waiting in the queue: its email upper-cased, as Stripe may send it. */
export function laterCheckout(person: SeededPerson): StripeEvent {
  return checkoutOf(person, person.subscriptions[1]!, (e) => e.toUpperCase());
}

/**
 * Stands in for the worker: completes every job but `failing`, which fails with a reason naming
 * the email (as a Drizzle error's parameters would); the ledger rows are seeded apart.
 */
export async function runJobs(queue: EventQueue, events: StripeEvent[], failing: StripeEvent, email: string): Promise<void> {
  for (const e of events) await queue.add(e.type, signedJob(e), { jobId: e.id });
  const stand = new Worker<StripeEventJobData>(
    queue.name,
    async (job) => {
      if (job.id === failing.id) throw new UnrecoverableError(`insert failed, params: ${email}`);
      return { outcome: 'applied' };
    },
    { connection: workerConnection({ url: inject('redisUrl') }), autorun: false },
  );
  void stand.run();
  await vi.waitFor(
    async () => expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: events.length - 1, failed: 1 }),
    { timeout: 20_000 },
  );
  await stand.close();
}

/** Stands in for the worker's first step: completes the job if its signature verifies (the worker's own check), fails it if not. */
export async function workOffVerified(queue: EventQueue, id: string): Promise<void> {
  const stand = new Worker<StripeEventJobData>(
    queue.name,
    async (job) => {
      const verified = testSigner.verify(job.data);
      if (!verified.ok) throw new UnrecoverableError(`refused: ${verified.reason}`);
      return { outcome: 'unresolved' };
    },
    { connection: workerConnection({ url: inject('redisUrl') }), autorun: false },
  );
  void stand.run();
  await vi.waitFor(async () => expect(await queue.getJobState(id)).toMatch(/completed|failed/), { timeout: 20_000 });
  await stand.close();
  expect(await queue.getJobState(id)).toBe('completed');
}

/** Every key of the queue with its raw content (hash fields, stream entries, members), read past BullMQ. */
export async function rawQueue(redis: Redis, queueName: string): Promise<Map<string, string>> {
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

/** The three tables, in a stable order, to compare before and after. */
export async function tables(t: TestDatabase) {
  return {
    users: await t.db.select().from(users).orderBy(asc(users.id)),
    subscriptions: await t.db.select().from(subscriptions).orderBy(asc(subscriptions.id)),
    ledger: await t.db.select().from(webhookEvents).orderBy(asc(webhookEvents.id)),
  };
}

export function openTestQueue(name: string): { queue: EventQueue; redis: Redis } {
  const redis = workerConnection(inject('redisUrl'));
  return { queue: createEventQueue(redis, { name }), redis };
}
