import { randomBytes } from 'node:crypto';
import type { Sql } from '@billing/db/client';
import type { StripeEvent } from '@billing/queue';
import { expectedSubscription, expectedUserStatus, type ExpectedSubscription } from '@billing/stripe-simulator/oracle';
import type { BuiltHistory, CorpusUser, HistoryCase } from '@billing/stripe-simulator/corpus';

/**
 * Running a corpus history against a database: a user of its own seeded the way the history
 * finds it, then the rows read back and compared with the history's oracle.
 */

export interface PreparedHistory {
  built: BuiltHistory;
  user: CorpusUser;
}

/** A fresh tag (ids unique across runs) and a user seeded for the case's route. */
export async function prepareHistory(sql: Sql, c: HistoryCase, start: number): Promise<PreparedHistory> {
  const tag = randomBytes(6).toString('hex');
  const email = `corpus-${tag}@example.com`;
  const customer = `cus_${tag}`;
  const [row] = await sql<Array<{ id: number }>>`
    insert into users (email, stripe_customer_id) values (${email}, ${c.route === 'bound' ? customer : null}) returning id`;
  const user = { id: row!.id, email };
  const built = c.build({ tag, start, user, shape: c.shape ?? 'basil' });
  return { built, user };
}

export interface ObservedSubscription extends ExpectedSubscription {
  userId: number | null;
}

export async function observedRows(sql: Sql, built: BuiltHistory): Promise<Map<string, ObservedSubscription>> {
  const ids = built.subscriptions.map((s) => s.ids.subscription);
  const rows = await sql<
    Array<{
      stripe_subscription_id: string;
      status: string;
      current_period_end: number | null;
      stripe_price_id: string | null;
      plan_slug: string;
      period: string;
      cancel_at: number | null;
      trial_end: number | null;
      user_id: number | null;
    }>
  >`
    select stripe_subscription_id, status, stripe_price_id, plan_slug, period, user_id,
      extract(epoch from current_period_end)::float8 as current_period_end, extract(epoch from cancel_at)::float8 as cancel_at,
      extract(epoch from trial_end)::float8 as trial_end
    from subscriptions where stripe_subscription_id = any(${ids})`;
  const seconds = (value: number | null) => value;
  return new Map(
    rows.map((r) => [
      r.stripe_subscription_id,
      {
        subscriptionId: r.stripe_subscription_id,
        status: r.status,
        currentPeriodEnd: seconds(r.current_period_end),
        priceId: r.stripe_price_id as string,
        planSlug: r.plan_slug,
        period: r.period as 'monthly' | 'yearly',
        cancelAt: seconds(r.cancel_at),
        trialEnd: seconds(r.trial_end),
        userId: r.user_id,
      },
    ]),
  );
}

/** Every difference between the rows and the oracle, as `subscription.field: got ≠ want` lines. */
export async function historyDifferences(sql: Sql, prepared: PreparedHistory): Promise<string[]> {
  const { built, user } = prepared;
  const observed = await observedRows(sql, built);
  const differences: string[] = [];
  for (const history of built.subscriptions) {
    const want = { ...expectedSubscription(history), userId: user.id };
    const got = observed.get(want.subscriptionId);
    if (!got) {
      differences.push(`${want.subscriptionId}: no row`);
      continue;
    }
    for (const key of Object.keys(want) as Array<keyof ObservedSubscription>) {
      if (got[key] !== want[key]) differences.push(`${want.subscriptionId}.${key}: ${String(got[key])} ≠ ${String(want[key])}`);
    }
  }
  const [row] = await sql<Array<{ subscription_status: string | null; stripe_customer_id: string | null }>>`
    select subscription_status, stripe_customer_id from users where id = ${user.id}`;
  const wantStatus = expectedUserStatus(built.subscriptions.map((s) => expectedSubscription(s).status));
  if (row?.subscription_status !== wantStatus)
    differences.push(`user.subscription_status: ${String(row?.subscription_status)} ≠ ${String(wantStatus)}`);
  if (row?.stripe_customer_id !== built.customer)
    differences.push(`user.stripe_customer_id: ${String(row?.stripe_customer_id)} ≠ ${built.customer}`);
  if (differences.length > 0) {
    // What each event of the history did, in Stripe's order, to read a failure by.
    const outcomes = await ledgerOutcomes(sql, built.events);
    differences.push(`events: ${built.events.map((e) => `${e.type}@${e.created}=${outcomes.get(e.id)}`).join(', ')}`);
  }
  return differences;
}

/** Each event's ledger outcome; an event missing from the ledger is `missing`. */
export async function ledgerOutcomes(sql: Sql, events: readonly StripeEvent[]): Promise<Map<string, string>> {
  const rows = await sql<Array<{ stripe_event_id: string; outcome: string }>>`
    select stripe_event_id, outcome from webhook_events where stripe_event_id = any(${events.map((e) => e.id)})`;
  const outcomes = new Map(rows.map((r) => [r.stripe_event_id, r.outcome]));
  return new Map(events.map((e) => [e.id, outcomes.get(e.id) ?? 'missing']));
}
