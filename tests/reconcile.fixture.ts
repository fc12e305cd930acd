import { applyEvents, defaultBillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { prepareHistory, type PreparedHistory } from '@billing/testing/corpus-harness';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS, type HistoryCase } from '@billing/stripe-simulator/corpus';
import type { FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { expectedFromSubscriptionObject, expectedUserStatus } from '@billing/stripe-simulator/oracle';
import type { StripeEvent } from '@billing/queue';

/** Reconcile's tests: corpus histories delivered to the database and loaded into the fake Stripe API, and the oracle read back. */

export const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
export const DAY = 86_400;

export function corpusCase(name: string): HistoryCase {
  const found = LIFECYCLE_CORPUS.find((c) => c.name === name);
  if (!found) throw new Error(`no corpus case ${name}`);
  return found;
}

/** A history of `c` starting at `start`: its user seeded, its events loaded into the fake API, `delivered` of them applied. */
export async function seedHistory(
  sql: Sql,
  connection: Sql,
  fake: FakeStripeApi,
  c: HistoryCase,
  start: number,
  delivered: (events: StripeEvent[]) => StripeEvent[][] = (events) => [events],
): Promise<PreparedHistory> {
  const prepared = await prepareHistory(sql, c, start);
  fake.loadHistory(prepared.built);
  for (const batch of delivered(prepared.built.events)) {
    const { results } = await applyEvents(connection, batch, config);
    for (const result of results) if (result instanceof Error) throw result;
  }
  return prepared;
}

/** The row's fields as the oracle names them, or undefined without a row. */
export async function rowOf(sql: Sql, subscriptionId: string) {
  const [row] = await sql<
    Array<{
      status: string;
      current_period_end: number | null;
      stripe_price_id: string | null;
      plan_slug: string;
      period: string;
      cancel_at: number | null;
      trial_end: number | null;
    }>
  >`select status, stripe_price_id, plan_slug, period, extract(epoch from current_period_end)::float8 as current_period_end,
      extract(epoch from cancel_at)::float8 as cancel_at, extract(epoch from trial_end)::float8 as trial_end
    from subscriptions where stripe_subscription_id = ${subscriptionId}`;
  return (
    row && {
      subscriptionId,
      status: row.status,
      currentPeriodEnd: row.current_period_end,
      priceId: row.stripe_price_id,
      planSlug: row.plan_slug,
      period: row.period,
      cancelAt: row.cancel_at,
      trialEnd: row.trial_end,
    }
  );
}

/** What the row must hold: Stripe's object as the fake API serves it now. */
export function stripeTruth(fake: FakeStripeApi, subscriptionId: string) {
  const object = fake.subscription(subscriptionId);
  return object && expectedFromSubscriptionObject(object);
}

/** The subscriptions of a prepared history whose rows differ from Stripe's objects (or that have none), and whether the user's status does. */
export async function differingSubscriptions(
  sql: Sql,
  fake: FakeStripeApi,
  prepared: PreparedHistory,
): Promise<{ subscriptions: string[]; user: boolean }> {
  const differing: string[] = [];
  const statuses: string[] = [];
  for (const h of prepared.built.subscriptions) {
    const id = h.ids.subscription;
    const want = stripeTruth(fake, id)!;
    statuses.push(want.status);
    const got = await rowOf(sql, id);
    if (!got || JSON.stringify(got) !== JSON.stringify(want)) differing.push(id);
  }
  const [user] = await sql<
    Array<{ subscription_status: string | null }>
  >`select subscription_status from users where id = ${prepared.user.id}`;
  return { subscriptions: differing.sort(), user: user?.subscription_status !== expectedUserStatus(statuses) };
}
