import { createDatabase, type Database } from '@billing/db/client';
import { subscriptions, subscriptionTransitions, users, webhookEvents } from '@billing/db/schema';
import { expectedSubscription } from '@billing/stripe-simulator/oracle';
import { LIFECYCLE_CORPUS, type BuiltHistory } from '@billing/stripe-simulator/corpus';
import { signatureHeader, type ApiShape, type StripeEvent } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { thinSignatureHeader, thinTwinOf } from '@billing/stripe-simulator/thin-events';
import { randomBytes } from 'node:crypto';
import { asc, eq, inArray } from 'drizzle-orm';
import type { QueueConfig, ThinEvent } from '@billing/queue';
import { formatNotification, startDemoNotifications } from './demo-notifications';
import { formatTable } from './table';

export const DEMO_EMAIL = 'demo@example.com';
export const WEBHOOK_PATH = '/checkout/webhooks/stripe';
export const THIN_WEBHOOK_PATH = '/stripe/thin-events';
/** Where `npm run demo -- --thin` serves its fake Stripe API: the worker's `STRIPE_API_BASE`. */
export const DEMO_STRIPE_API_PORT = 12111;

export interface DemoOptions {
  databaseUrl: string;
  /** e.g. http://127.0.0.1:3000 */
  ingressUrl: string;
  /** The signing secret the ingress is configured with. */
  secret: string;
  /** Where the secret came from, for the error message when the ingress rejects it. */
  secretSource?: string;
  email?: string;
  /**
   * Send the histories as thin events (`--thin`): signed with the thin destination's secret to the
   * thin route, their objects served by a fake Stripe API on `apiPort` that the worker fetches from
   * (`STRIPE_API_BASE=http://127.0.0.1:<apiPort>`, any `sk_test_…` key).
   */
  thin?: { secret: string; apiPort: number; path?: string };
  /** How long to wait for the worker to record each event. @defaultValue 20000 */
  timeoutMs?: number;
  log?: (line: string) => void;
  /**
   * Where `npm start` runs the queue: the demo then starts a sample host application, points the
   * worker's delivery side at it (NOTIFY_URL) and prints the notifications it received.
   */
  notifications?: { queue: QueueConfig; queueName: string };
}

export interface DemoResult {
  userId: number;
  subscriptionIds: string[];
  eventIds: string[];
  /** The histories sent (one customer's): `--drift` serves their final objects from a fake Stripe API. */
  built: BuiltHistory[];
}

export class DemoError extends Error {
  override name = 'DemoError';
}

/** The histories the demo sends: corpus histories of one customer, each delivered its own way. */
const DEMO_HISTORIES: Array<{ name: string; shape: ApiShape; order: 'as Stripe emitted it' | 'in reverse order' | 'shuffled' }> = [
  { name: 'trial through checkout, then active (yearly price, no period in the metadata)', shape: 'basil', order: 'as Stripe emitted it' },
  {
    name: 'upgrade in the Customer Portal: the price moves, the metadata still names the old plan',
    shape: 'basil',
    order: 'in reverse order',
  },
  { name: 'scheduled cancellation at a date (flexible billing cancel_at)', shape: 'legacy', order: 'shuffled' },
];

/**
 * 1. creates the demo user if missing; 2. signs and POSTs three real-shaped histories of one
 * customer to the ingress — a trial that turns active, delivered as Stripe emitted it; a Customer
 * Portal upgrade delivered backwards; a scheduled cancellation in the older payload shape,
 * shuffled — waiting for the worker to record each event before sending the next; 3. prints the
 * rows, and for each subscription what Stripe's own final object says.
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const email = (options.email ?? DEMO_EMAIL).toLowerCase();
  const timeoutMs = options.timeoutMs ?? 20_000;
  const endpoint = `${options.ingressUrl.replace(/\/$/, '')}${WEBHOOK_PATH}`;
  await checkIngress(options.ingressUrl);
  const api = options.thin ? await startDemoStripeApi(options.thin.apiPort) : undefined;

  const { db, sql } = createDatabase(options.databaseUrl, { max: 2, applicationName: 'billing-webhooks-demo' });
  let notifying: Awaited<ReturnType<typeof startDemoNotifications>> | undefined;
  try {
    const userId = await ensureDemoUser(db, email);
    log(`demo user ${email} (id ${userId})`);
    const customer = `cus_demo${randomBytes(6).toString('hex')}`;
    const start = Math.floor(Date.now() / 1000) - 40 * 86_400;
    const built: BuiltHistory[] = [];
    const eventIds: string[] = [];
    for (const [i, demo] of DEMO_HISTORIES.entries()) {
      const history = LIFECYCLE_CORPUS.find((c) => c.name === demo.name)!;
      const tag = `demo${randomBytes(5).toString('hex')}`;
      const b = history.build({ tag, start: start + i * 60, user: { id: userId, email }, shape: demo.shape, customer });
      built.push(b);
      log(
        `\n${history.name} — ${demo.shape === 'legacy' ? 'older payload shape (2024-06-20)' : 'current payload shape'}, delivered ${demo.order}`,
      );
      api?.loadHistory(b);
      for (const event of deliveryOrder(b.events, demo.order)) {
        if (api && options.thin) {
          // A thin destination sends the v1 types it listens to; the others have no thin twin here.
          const thin = thinTwinOf(event);
          if (!thin) continue;
          const requests = api.requests.length;
          const status = await sendThin(options.ingressUrl, thin, options.thin);
          const outcome = await waitForLedger(db, thin.snapshot_event ?? thin.id, timeoutMs);
          eventIds.push(thin.snapshot_event ?? thin.id);
          const fetched = api.requests.slice(requests).map((r) => r.path.split('/').slice(2, -1).join('/'));
          log(
            `  ${thin.type.padEnd(43)} → HTTP ${status}, worker: ${outcome.padEnd(9)} Stripe API calls: ${fetched.length} (${fetched.join(', ')})`,
          );
          continue;
        }
        const status = await send(endpoint, event, options);
        const outcome = await waitForLedger(db, event.id, timeoutMs);
        eventIds.push(event.id);
        log(
          `  ${event.type.padEnd(40)} ${new Date(event.created * 1000).toISOString().slice(0, 19)}  → HTTP ${status}, worker: ${outcome}`,
        );
      }
    }
    const subscriptionIds = built.flatMap((b) => b.subscriptions.map((s) => s.ids.subscription));
    // Started once the events are in: its relay scan gives every row still without a job its own.
    notifying = options.notifications
      ? await startDemoNotifications({ ...options.notifications, databaseUrl: options.databaseUrl }).catch((error: unknown) => {
          log(`(no notifications: the delivery side could not start: ${(error as Error).message})`);
          return undefined;
        })
      : undefined;
    log('');
    log(await describeRows(db, email, subscriptionIds, eventIds));
    log('\nStripe’s own final objects say:');
    for (const h of built.flatMap((b) => b.subscriptions)) {
      const want = expectedSubscription(h);
      const at = (s: number | null) => (s === null ? 'none' : new Date(s * 1000).toISOString().slice(0, 10));
      log(
        `  ${want.subscriptionId}: ${want.status}, ${want.planSlug}/${want.period} (${want.priceId}), period end ${at(want.currentPeriodEnd)}, cancel at ${at(want.cancelAt)}, trial end ${at(want.trialEnd)}`,
      );
    }
    if (notifying) {
      const subjects = [...subscriptionIds, `user:${userId}`];
      const left = await notifying.settle(sql, subjects, timeoutMs);
      const received = notifying.host.received.filter((n) => subjects.includes(n.subject));
      log(
        `\nThe sample host application (${notifying.host.url}) received ${received.length} signed notification(s), each verified with @billing/client:`,
      );
      for (const n of received) log(formatNotification(n));
      if (left > 0) log(`  (${left} not delivered within ${timeoutMs / 1000} s)`);
    }
    return { userId, subscriptionIds, eventIds, built };
  } finally {
    await notifying?.close();
    await api?.close();
    await sql.end({ timeout: 5 });
  }
}

async function startDemoStripeApi(port: number): Promise<FakeStripeApi> {
  try {
    return await startFakeStripeApi({ port });
  } catch (error) {
    throw new DemoError(
      `cannot serve the fake Stripe API on 127.0.0.1:${port} (${fetchFailure(error)}): free the port or set DEMO_STRIPE_API_PORT (and the worker's STRIPE_API_BASE) to another`,
    );
  }
}

async function sendThin(ingressUrl: string, thin: ThinEvent, options: NonNullable<DemoOptions['thin']>): Promise<number> {
  const payload = JSON.stringify(thin);
  const response = await fetch(`${ingressUrl.replace(/\/$/, '')}${options.path ?? THIN_WEBHOOK_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': thinSignatureHeader(payload, options.secret),
      'user-agent': 'billing-webhooks-demo',
    },
    body: payload,
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status === 404)
    throw new DemoError(
      'the ingress has no thin route: start it with STRIPE_THIN_WEBHOOK_SECRET set (see docs/operations.md, "Thin events")',
    );
  if (response.status === 400 && body.includes('invalid_signature'))
    throw new DemoError(
      'the ingress rejected the thin signature: run the demo with the STRIPE_THIN_WEBHOOK_SECRET the ingress was started with',
    );
  if (response.status !== 200)
    throw new DemoError(`the ingress answered ${response.status} to ${thin.type} ${thin.id}: ${body.slice(0, 300)}`);
  return response.status;
}

function deliveryOrder(events: StripeEvent[], order: (typeof DEMO_HISTORIES)[number]['order']): StripeEvent[] {
  if (order === 'in reverse order') return [...events].reverse();
  if (order === 'shuffled')
    return events
      .map((e, i) => ({ e, k: (i * 7919) % events.length }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.e);
  return events;
}

async function checkIngress(ingressUrl: string): Promise<void> {
  try {
    const response = await fetch(`${ingressUrl.replace(/\/$/, '')}/healthz`, { signal: AbortSignal.timeout(3_000) });
    if (!response.ok) throw new Error(`GET /healthz answered ${response.status}`);
  } catch (error) {
    throw new DemoError(
      `the ingress does not answer at ${ingressUrl} (${fetchFailure(error)}). ` + 'Start the stack first, in another terminal: npm start',
    );
  }
}

function fetchFailure(error: unknown): string {
  const { message, cause } = error as { message?: string; cause?: { code?: string; message?: string } };
  return cause?.code ?? cause?.message ?? message ?? String(error);
}

async function ensureDemoUser(db: Database, email: string): Promise<number> {
  try {
    await db.insert(users).values({ email }).onConflictDoNothing({ target: users.email });
  } catch (error) {
    const code = (error as { cause?: { code?: string } }).cause?.code;
    if (code === '42P01') throw new DemoError('the database has no users table yet: run npm start (or npm run db:migrate) first');
    throw error;
  }
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.email, email));
  if (!user) throw new DemoError(`could not create the demo user ${email}`);
  return user.id;
}

async function send(endpoint: string, event: StripeEvent, options: DemoOptions): Promise<number> {
  // Signed over the exact bytes sent, as Stripe does.
  const payload = JSON.stringify(event);
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'stripe-signature': signatureHeader(payload, options.secret),
      'user-agent': 'billing-webhooks-demo',
    },
    body: payload,
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status === 400 && body.includes('invalid_signature')) {
    throw new DemoError(
      `the ingress rejected the signature: it is configured with another secret than the one from ${options.secretSource ?? 'the options'}. ` +
        'Run the demo with STRIPE_WEBHOOK_SECRET set to the secret the ingress was started with.',
    );
  }
  if (response.status !== 200)
    throw new DemoError(`the ingress answered ${response.status} to ${event.type} ${event.id}: ${body.slice(0, 300)}`);
  return response.status;
}

async function waitForLedger(db: Database, eventId: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [row] = await db.select({ outcome: webhookEvents.outcome }).from(webhookEvents).where(eq(webhookEvents.stripeEventId, eventId));
    if (row) return row.outcome;
    if (Date.now() > deadline) {
      throw new DemoError(
        `the worker has not recorded ${eventId} within ${timeoutMs / 1000} s. Is the worker running (npm start runs it) on the same ` +
          'REDIS_URL, QUEUE_NAME and DATABASE_URL? A job that failed is visible in the dashboard.',
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function describeRows(db: Database, email: string, subscriptionIds: string[], eventIds: string[]): Promise<string> {
  const userRows = await db
    .select({ id: users.id, email: users.email, stripe_customer_id: users.stripeCustomerId, subscription_status: users.subscriptionStatus })
    .from(users)
    .where(eq(users.email, email));
  const subscriptionRows = await db
    .select({
      id: subscriptions.id,
      user_id: subscriptions.userId,
      stripe_subscription_id: subscriptions.stripeSubscriptionId,
      stripe_customer_id: subscriptions.stripeCustomerId,
      plan_slug: subscriptions.planSlug,
      period: subscriptions.period,
      status: subscriptions.status,
      stripe_price_id: subscriptions.stripePriceId,
      current_period_end: subscriptions.currentPeriodEnd,
      cancel_at: subscriptions.cancelAt,
      trial_end: subscriptions.trialEnd,
      last_event_at: subscriptions.lastEventAt,
    })
    .from(subscriptions)
    .where(inArray(subscriptions.stripeSubscriptionId, subscriptionIds))
    .orderBy(asc(subscriptions.id));
  const transitionRows = await db
    .select({
      id: subscriptionTransitions.id,
      stripe_subscription_id: subscriptionTransitions.stripeSubscriptionId,
      from_status: subscriptionTransitions.fromStatus,
      to_status: subscriptionTransitions.toStatus,
      stripe_event_id: subscriptionTransitions.stripeEventId,
      event_created_at: subscriptionTransitions.eventCreatedAt,
    })
    .from(subscriptionTransitions)
    .where(inArray(subscriptionTransitions.stripeSubscriptionId, subscriptionIds))
    .orderBy(asc(subscriptionTransitions.id));
  const eventRows = await db
    .select({
      id: webhookEvents.id,
      stripe_event_id: webhookEvents.stripeEventId,
      event_type: webhookEvents.eventType,
      event_created_at: webhookEvents.eventCreatedAt,
      outcome: webhookEvents.outcome,
      processed_at: webhookEvents.processedAt,
    })
    .from(webhookEvents)
    .where(inArray(webhookEvents.stripeEventId, eventIds))
    .orderBy(asc(webhookEvents.eventCreatedAt), asc(webhookEvents.id));
  return [
    formatTable('users', userRows),
    formatTable('subscriptions', subscriptionRows),
    formatTable('subscription_transitions', transitionRows),
    formatTable('webhook_events', eventRows),
  ].join('\n\n');
}
