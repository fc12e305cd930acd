import type { Sql } from '@billing/db/client';
import type { PreparedHistory } from '@billing/testing/corpus-harness';
import { expectedSubscription } from '@billing/stripe-simulator/oracle';

/**
 * What the host application contract promises of a history's outbox rows once it has been
 * delivered (docs/design.md "Host application contract"), as a list of broken promises (empty: all
 * kept). Read from the tables; the access expected at the end comes from Stripe's final objects.
 */

interface OutboxRow {
  id: number;
  type: string;
  subject: string;
  sequence: number;
  data: Record<string, unknown> & { changes: Record<string, [unknown, unknown]> };
  stripe_event_ids: string[];
}

const SUBSCRIPTION_FIELDS = ['status', 'plan_slug', 'period', 'price_id', 'cancel_at'] as const;
const USER_FIELDS = ['has_access', 'plan_slug', 'entitlements'] as const;
/** What a subject was told before its first row. */
const NOTHING: Record<string, Record<string, unknown>> = {
  subscription: { status: null, plan_slug: null, period: null, price_id: null, cancel_at: null },
  user: { has_access: false, plan_slug: null, entitlements: [] },
};

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const iso = (seconds: number | null) => (seconds === null ? null : new Date(seconds * 1000).toISOString());

export async function outboxRowsOf(sql: Sql, subjects: readonly string[]): Promise<OutboxRow[]> {
  return sql<OutboxRow[]>`
    select id::int as id, type, subject, sequence, data, stripe_event_ids from billing_outbox where subject = any(${subjects}) order by id`;
}

/**
 * - each subject's sequences run 1, 2, 3… in id order (no two rows share a key, none is missing);
 * - each row's `changes` name real changes whose `from` is what the subject's earlier rows told
 *   (nothing before the first) and whose `to` is in the row's `data`;
 * - what the rows told of each subscription, folded, is its row now (nothing lost on the way), and
 *   of the user, their `billing_access` row;
 * - an ended subscription has exactly one `subscription.ended` row, another none;
 * - rows without an event are the clock's revocations only, and the others name events of the history;
 * - the user's access is what Stripe's final objects grant at `now` (active, or trialing before the
 *   trial's end, until a scheduled cancellation — the corpus ends no subscription `past_due`).
 */
export async function hostContractBreaches(sql: Sql, prepared: PreparedHistory, now: number): Promise<string[]> {
  const { built, user } = prepared;
  const subscriptionIds = built.subscriptions.map((s) => s.ids.subscription);
  const userSubject = `user:${user.id}`;
  const rows = await outboxRowsOf(sql, [...subscriptionIds, userSubject]);
  const breaches: string[] = [];
  const eventIds = new Set(built.events.map((e) => e.id));
  const told = new Map<string, Record<string, unknown>>();
  const counts = new Map<string, number>();

  for (const row of rows) {
    const kind = row.subject.startsWith('user:') ? 'user' : 'subscription';
    const before = told.get(row.subject) ?? { ...NOTHING[kind] };
    const label = `${row.subject}#${row.sequence} ${row.type}`;
    const previous = counts.get(row.subject) ?? 0;
    counts.set(row.subject, previous + 1);
    if (row.sequence !== previous + 1) breaches.push(`${label}: sequence ${row.sequence} after ${previous} rows`);
    if (!row.type.startsWith(`${kind}.`)) breaches.push(`${label}: a ${kind} subject`);
    const changes = Object.entries(row.data.changes ?? {});
    if (changes.length === 0) breaches.push(`${label}: changes nothing`);
    for (const [field, [from, to]] of changes) {
      if (!same(from, before[field]))
        breaches.push(`${label}: ${field} from ${JSON.stringify(from)}, told ${JSON.stringify(before[field])}`);
      if (same(from, to)) breaches.push(`${label}: ${field} "changes" from ${JSON.stringify(from)} to itself`);
      if (!same(to, row.data[field]))
        breaches.push(`${label}: ${field} to ${JSON.stringify(to)}, data says ${JSON.stringify(row.data[field])}`);
      before[field] = to;
    }
    told.set(row.subject, before);
    if (row.stripe_event_ids.length === 0 && row.type !== 'user.access_revoked') breaches.push(`${label}: no event, not the clock's`);
    for (const id of row.stripe_event_ids) if (!eventIds.has(id)) breaches.push(`${label}: names ${id}, not of the history`);
  }

  const subscriptions = await sql<
    Array<Record<(typeof SUBSCRIPTION_FIELDS)[number], unknown> & { stripe_subscription_id: string; status: string }>
  >`
    select stripe_subscription_id, status, plan_slug, period, stripe_price_id as price_id, extract(epoch from cancel_at)::float8 as cancel_at
    from subscriptions where stripe_subscription_id = any(${subscriptionIds})`;
  for (const s of subscriptions) {
    const now = { ...s, cancel_at: iso(s.cancel_at as number | null) };
    const folded = told.get(s.stripe_subscription_id) ?? NOTHING.subscription!;
    for (const field of SUBSCRIPTION_FIELDS) {
      if (!same(folded[field], now[field]))
        breaches.push(`${s.stripe_subscription_id}: told ${field} ${JSON.stringify(folded[field])}, row ${JSON.stringify(now[field])}`);
    }
    const ended = rows.filter((r) => r.subject === s.stripe_subscription_id && r.type === 'subscription.ended').length;
    const terminal = s.status === 'canceled' || s.status === 'incomplete_expired';
    if (ended !== (terminal ? 1 : 0)) breaches.push(`${s.stripe_subscription_id} (${s.status}): ${ended} ended rows`);
  }

  const [access] = await sql<Array<{ has_access: boolean; plan_slug: string | null; entitlements: string[] }>>`
    select has_access, plan_slug, entitlements from billing_access where user_id = ${user.id}`;
  const stored = access ?? NOTHING.user!;
  const folded = told.get(userSubject) ?? NOTHING.user!;
  for (const field of USER_FIELDS) {
    if (!same(folded[field], stored[field as keyof typeof stored]))
      breaches.push(
        `user: told ${field} ${JSON.stringify(folded[field])}, billing_access ${JSON.stringify(stored[field as keyof typeof stored])}`,
      );
  }
  const lastAccessRow = rows.filter((r) => r.type === 'user.access_granted' || r.type === 'user.access_revoked').at(-1);
  if ((lastAccessRow?.type === 'user.access_granted') !== stored.has_access)
    breaches.push(`user: last access row ${lastAccessRow?.type ?? 'none'}, billing_access.has_access ${String(stored.has_access)}`);

  const granting = built.subscriptions
    .map((h) => expectedSubscription(h))
    .filter(
      (s) =>
        (s.status === 'active' || (s.status === 'trialing' && (s.trialEnd === null || now < s.trialEnd))) &&
        (s.cancelAt === null || now < s.cancelAt),
    );
  if (stored.has_access !== granting.length > 0)
    breaches.push(`user: has_access ${String(stored.has_access)} at ${iso(now)}, Stripe's final objects grant ${granting.length > 0}`);
  if (granting.length === 1 && stored.plan_slug !== granting[0]!.planSlug)
    breaches.push(`user: plan ${String(stored.plan_slug)}, the granting subscription's ${granting[0]!.planSlug}`);
  if (breaches.length > 0)
    breaches.push(`rows: ${rows.map((r) => `${r.subject}#${r.sequence} ${r.type} ${JSON.stringify(r.data.changes)}`).join('; ')}`);
  return breaches;
}
