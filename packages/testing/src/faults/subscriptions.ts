import type { Sql } from '@billing/db/client';
import type { StripeEvent } from '@billing/queue';
import { historyDifferences, prepareHistory, type PreparedHistory } from '@billing/testing/corpus-harness';
import { LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';

const DAY = 86_400;

/**
 * Real-shaped histories (the lifecycle corpus, in turn), each with a user of its own seeded the
 * way the history finds it, until their events number at least `total`. The oracle of every
 * scenario is Stripe's final object of each history, never our rules run another way.
 */
export async function historiesTotalling(sql: Sql, total: number): Promise<PreparedHistory[]> {
  // Old enough that every event of a history (the longest span a year and a month) is in the past.
  const start = Math.floor(Date.now() / 1000) - 420 * DAY;
  const histories: PreparedHistory[] = [];
  let events = 0;
  for (let i = 0; events < total; i += 1) {
    const prepared = await prepareHistory(sql, LIFECYCLE_CORPUS[i % LIFECYCLE_CORPUS.length]!, start + i * 7);
    histories.push(prepared);
    events += prepared.built.events.length;
  }
  return histories;
}

export function eventsOf(histories: readonly PreparedHistory[]): StripeEvent[] {
  return histories.flatMap((h) => h.built.events);
}

/** Histories interleaved as a stream would see them: every history's k-th event, then the (k+1)-th… */
export function interleaved(histories: readonly PreparedHistory[]): StripeEvent[] {
  const events: StripeEvent[] = [];
  const longest = Math.max(...histories.map((h) => h.built.events.length));
  for (let k = 0; k < longest; k += 1) for (const h of histories) if (h.built.events[k]) events.push(h.built.events[k] as StripeEvent);
  return events;
}

export function subscriptionCount(histories: readonly PreparedHistory[]): number {
  return histories.reduce((n, h) => n + h.built.subscriptions.length, 0);
}

/** Where the rows differ from the histories' final objects (`subscription.field: got ≠ want`), at most `limit`. */
export async function differencesFromStripe(sql: Sql, histories: readonly PreparedHistory[], limit = 20): Promise<string[]> {
  const differences: string[] = [];
  for (const h of histories) differences.push(...(await historyDifferences(sql, h)).map((d) => `${h.built.customer} ${d}`));
  return differences.slice(0, limit).concat(differences.length > limit ? [`… and ${differences.length - limit} more`] : []);
}

/** Subscription rows that share a Stripe id (the unique index should make this impossible) and the row count. */
export async function subscriptionRowCounts(sql: Sql): Promise<{ rows: number; distinct: number }> {
  const [row] = await sql<Array<{ rows: number; distinct: number }>>`
    select count(*)::int as rows, count(distinct stripe_subscription_id)::int as distinct from subscriptions`;
  return row ?? { rows: 0, distinct: 0 };
}

/** Transition rows that move a subscription out of a terminal status. */
export async function transitionsOutOfTerminal(sql: Sql): Promise<number> {
  const [row] = await sql<Array<{ n: number }>>`
    select count(*)::int as n from subscription_transitions where from_status in ('canceled', 'incomplete_expired')`;
  return row?.n ?? 0;
}
