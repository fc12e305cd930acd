import { randomBytes } from 'node:crypto';
import { applyEvent, defaultBillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { createTestDatabase } from '@billing/testing/database';
import { lifecycle, type ApiShape, type StripeEvent } from '@billing/testing/stripe-events';
import postgres from 'postgres';
import { mapWithConcurrency } from './concurrency';

export interface SeededUser {
  id: number;
  email: string;
}

/** Inserts `count` users (lower-case emails) and returns them. */
export async function seedUsers(sql: Sql, count: number): Promise<SeededUser[]> {
  const tag = randomBytes(3).toString('hex');
  const rows = Array.from({ length: count }, (_, i) => ({ email: `fault-${tag}-${i}@example.test` }));
  return sql<SeededUser[]>`insert into users ${sql(rows, 'email')} returning id, email`;
}

export interface Lifecycle {
  subscriptionId: string;
  user: SeededUser;
  /** In order (`created` increasing by one second). */
  events: StripeEvent[];
}

const PLANS = ['starter', 'pro', 'business'] as const;
/** Lifecycle lengths in turn: full ones (ending `canceled`) and ones cut short (ending active/past_due). */
const LENGTHS = [6, 5, 6, 4, 6, 3] as const;

/**
 * Realistic lifecycles (`lifecycle()`), one per user, `total` events in all: full six-event ones
 * and some cut short, both API shapes, every plan and both periods.
 */
export function lifecyclesTotalling(users: readonly SeededUser[], total: number, options: { fullOnly?: boolean } = {}): Lifecycle[] {
  const result: Lifecycle[] = [];
  let remaining = total;
  const base = Math.floor(Date.now() / 1000) - 3_600;
  for (const [index, user] of users.entries()) {
    if (remaining <= 0) break;
    const length = Math.min(remaining, options.fullOnly ? 6 : (LENGTHS[index % LENGTHS.length] as number));
    const shape: ApiShape = index % 2 === 0 ? 'basil' : 'legacy';
    const events = lifecycle({
      email: user.email,
      userId: user.id,
      planSlug: PLANS[index % PLANS.length],
      period: Math.floor(index / 2) % 2 === 0 ? 'monthly' : 'yearly',
      shape,
      start: base + index * 7,
    }).slice(0, length);
    const subscription = String(events[1]?.data.object.id ?? events[0]?.data.object.subscription);
    result.push({ subscriptionId: subscription, user, events });
    remaining -= length;
  }
  if (remaining > 0) throw new Error(`lifecyclesTotalling: ${users.length} users cannot carry ${total} events`);
  return result;
}

/** Lifecycles interleaved as a stream would see them: every subscription's k-th event, then the (k+1)-th… */
export function interleaved(lifecycles: readonly Lifecycle[]): StripeEvent[] {
  const events: StripeEvent[] = [];
  const longest = Math.max(...lifecycles.map((l) => l.events.length));
  for (let k = 0; k < longest; k += 1) for (const l of lifecycles) if (l.events[k]) events.push(l.events[k] as StripeEvent);
  return events;
}

/** What a subscription and its user look like after the events; compared field by field. */
export interface SubscriptionState {
  status: string;
  currentPeriodEnd: string | null;
  planSlug: string;
  period: string;
  lastEventAt: string | null;
  userId: number | null;
  stripeCustomerId: string | null;
  userStatus: string | null;
  userCustomerId: string | null;
}

export type States = Map<string, SubscriptionState>;

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export async function snapshotStates(sql: Sql): Promise<States> {
  const rows = await sql<Array<{
    stripe_subscription_id: string;
    status: string;
    current_period_end: Date | null;
    plan_slug: string;
    period: string;
    last_event_at: Date | null;
    user_id: number | null;
    stripe_customer_id: string | null;
    user_status: string | null;
    user_customer_id: string | null;
  }>>`
    select s.stripe_subscription_id, s.status, s.current_period_end, s.plan_slug, s.period, s.last_event_at,
           s.user_id, s.stripe_customer_id, u.subscription_status as user_status, u.stripe_customer_id as user_customer_id
    from subscriptions s left join users u on u.id = s.user_id`;
  return new Map(
    rows.map((r) => [
      r.stripe_subscription_id,
      {
        status: r.status,
        currentPeriodEnd: iso(r.current_period_end),
        planSlug: r.plan_slug,
        period: r.period,
        lastEventAt: iso(r.last_event_at),
        userId: r.user_id,
        stripeCustomerId: r.stripe_customer_id,
        userStatus: r.user_status,
        userCustomerId: r.user_customer_id,
      },
    ]),
  );
}

/**
 * The clean in-order run: a database of its own with the same users, each lifecycle's events
 * applied one at a time in `created` order by the worker's own domain code. Lifecycles share no
 * user, customer or subscription, so they run side by side (commits unsynchronised: a scratch database).
 */
export async function referenceStates(users: readonly SeededUser[], lifecycles: readonly Lifecycle[]): Promise<States> {
  const ref = await createTestDatabase('fault_reference');
  try {
    // Before the pool's first connection (postgres-js connects lazily), so every connection gets it.
    const once = postgres(ref.url, { max: 1, onnotice: () => {} });
    await once`alter database ${once(ref.name)} set synchronous_commit = off`.finally(() => once.end({ timeout: 5 }));
    await ref.sql`insert into users ${ref.sql(users.map((u) => ({ id: u.id, email: u.email })), 'id', 'email')}`;
    await mapWithConcurrency(lifecycles, 8, async (l) => {
      for (const event of l.events) await applyEvent(ref.db, event, defaultBillingConfig);
    });
    return await snapshotStates(ref.sql);
  } finally {
    await ref.drop();
  }
}

/** The lifecycle rules written out by hand for an in-order lifecycle, to check the reference run itself. */
export function modelState(l: Lifecycle): Pick<SubscriptionState, 'status' | 'currentPeriodEnd' | 'lastEventAt' | 'userId' | 'userStatus'> {
  let status: string | null = null;
  let periodEnd: number | null = null;
  for (const event of l.events) {
    const object = event.data.object;
    const end = (object.current_period_end ??
      (object.items as { data?: Array<{ current_period_end?: number }> } | undefined)?.data?.[0]?.current_period_end) as number | undefined;
    let next: string | null = status;
    if (event.type === 'checkout.session.completed') next = 'active';
    else if (event.type === 'customer.subscription.deleted') next = 'canceled';
    else if (event.type.startsWith('customer.subscription.')) next = object.status as string;
    else if (event.type === 'invoice.payment_failed') next = 'past_due';
    else if (event.type === 'invoice.payment_succeeded') next = status === null || status === 'past_due' ? 'active' : status;
    if (status !== 'canceled') status = next;
    if (end !== undefined) periodEnd = end;
  }
  const last = l.events.at(-1) as StripeEvent;
  return {
    status: status as string,
    currentPeriodEnd: periodEnd === null ? null : new Date(periodEnd * 1000).toISOString(),
    lastEventAt: new Date(last.created * 1000).toISOString(),
    userId: l.user.id,
    userStatus: status,
  };
}

/** Field-by-field differences, `subscription.field: actual ≠ expected`, at most `limit` of them. */
export function stateDifferences(actual: States, expected: States, limit = 20): string[] {
  const differences: string[] = [];
  for (const [id, want] of expected) {
    const got = actual.get(id);
    if (!got) {
      differences.push(`${id}: missing`);
      continue;
    }
    for (const key of Object.keys(want) as Array<keyof SubscriptionState>) {
      if (got[key] !== want[key]) differences.push(`${id}.${key}: ${String(got[key])} ≠ ${String(want[key])}`);
    }
  }
  for (const id of actual.keys()) if (!expected.has(id)) differences.push(`${id}: unexpected subscription`);
  return differences.slice(0, limit).concat(differences.length > limit ? [`… and ${differences.length - limit} more`] : []);
}

/** Where the reference run disagrees with the hand-written model (a bug in the in-order path itself). */
export function modelDifferences(reference: States, lifecycles: readonly Lifecycle[], limit = 20): string[] {
  const differences: string[] = [];
  for (const l of lifecycles) {
    const got = reference.get(l.subscriptionId);
    if (!got) {
      differences.push(`${l.subscriptionId}: missing from the in-order run`);
      continue;
    }
    const want = modelState(l);
    for (const key of Object.keys(want) as Array<keyof typeof want>) {
      if (got[key] !== want[key]) differences.push(`${l.subscriptionId}.${key}: ${String(got[key])} ≠ model ${String(want[key])}`);
    }
  }
  return differences.slice(0, limit);
}

/** Subscription rows that share a Stripe id (the unique index should make this impossible) and the row count. */
export async function subscriptionRowCounts(sql: Sql): Promise<{ rows: number; distinct: number }> {
  const [row] = await sql<Array<{ rows: number; distinct: number }>>`
    select count(*)::int as rows, count(distinct stripe_subscription_id)::int as distinct from subscriptions`;
  return row ?? { rows: 0, distinct: 0 };
}

/** Transition rows that move a subscription out of `canceled` (terminal). */
export async function transitionsOutOfCanceled(sql: Sql): Promise<number> {
  const [row] = await sql<Array<{ n: number }>>`select count(*)::int as n from subscription_transitions where from_status = 'canceled'`;
  return row?.n ?? 0;
}
