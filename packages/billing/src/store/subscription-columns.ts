import type { ChangedFrom, Period, Seconds } from '../lifecycle-input';
import type { SubscriptionState } from '../lifecycle';
import { jsonb } from './sql-text';

/**
 * The one list of the `subscriptions` columns the rules read and write. From it come the row type,
 * the select list, the upsert's column list, its `jsonb_to_recordset` types and its
 * `on conflict … set` list, so a column added here is read, inserted and updated alike (checked
 * against the Drizzle schema in `subscription-columns.test.ts`). Times travel as Unix seconds.
 */

type Kind = 'text' | 'integer' | 'time' | 'jsonb';
type Value<K extends Kind, J> = K extends 'text' ? string : K extends 'integer' ? number : K extends 'time' ? Seconds : J;

export interface Column<K extends Kind = Kind, N extends boolean = boolean, J = unknown> {
  kind: K;
  nullable: N;
  /** The column's value in a state. */
  of: (state: SubscriptionState) => Value<K, J> | (N extends true ? null : never);
}

function column<K extends Kind, N extends boolean, J = never>(kind: K, nullable: N, of: Column<K, N, J>['of']): Column<K, N, J> {
  return { kind, nullable, of };
}

export const SUBSCRIPTION_COLUMNS = {
  stripe_subscription_id: column('text', false, (s) => s.subscriptionId),
  stripe_customer_id: column('text', true, (s) => s.customerId),
  user_id: column('integer', true, (s) => s.userId),
  status: column('text', false, (s) => s.status),
  plan_slug: column('text', false, (s) => s.facts.planSlug),
  period: column('text', false, (s) => s.facts.period),
  stripe_price_id: column('text', true, (s) => s.facts.priceId),
  current_period_end: column('time', true, (s) => s.facts.currentPeriodEnd),
  cancel_at: column('time', true, (s) => s.facts.cancelAt),
  trial_end: column('time', true, (s) => s.facts.trialEnd),
  status_at: column('time', true, (s) => s.statusAt),
  status_from: column('text', true, (s) => s.statusFrom),
  status_since: column('time', true, (s) => s.statusSince),
  snapshot_at: column('time', true, (s) => s.snapshotAt),
  snapshot_status: column('text', true, (s) => s.snapshotStatus),
  snapshot_from: column<'jsonb', true, ChangedFrom>('jsonb', true, (s) => s.snapshotFrom),
  last_event_at: column('time', true, (s) => s.lastEventAt),
} as const;

type Columns = typeof SUBSCRIPTION_COLUMNS;
export type SubscriptionColumn = keyof Columns;

/** The conflict target of the upsert: never in its `set` list. */
export const SUBSCRIPTION_KEY = 'stripe_subscription_id' satisfies SubscriptionColumn;

/** A row as the rules read and write it (`SUBSCRIPTION_SELECT`, `rowOf`). */
export type SubscriptionRow = { [C in SubscriptionColumn]: ReturnType<Columns[C]['of']> };

const NAMES = Object.keys(SUBSCRIPTION_COLUMNS) as SubscriptionColumn[];
const kindOf = (name: SubscriptionColumn): Kind => SUBSCRIPTION_COLUMNS[name].kind;
const RECORDSET_TYPE: Record<Kind, string> = { text: 'text', integer: 'int', time: 'bigint', jsonb: 'jsonb' };

/** The select list of `SubscriptionRow`: times as epoch seconds, whatever the client's date parsing (Drizzle leaves them strings). */
export const SUBSCRIPTION_SELECT = NAMES.map((c) => (kindOf(c) === 'time' ? `floor(extract(epoch from ${c}))::float8 as ${c}` : c)).join(
  ', ',
);

/** The state as a row: one record of the upsert's `jsonb_to_recordset`. */
export function rowOf(state: SubscriptionState): SubscriptionRow {
  return Object.fromEntries(NAMES.map((c) => [c, SUBSCRIPTION_COLUMNS[c].of(state)])) as SubscriptionRow;
}

export function stateFromRow(row: SubscriptionRow): SubscriptionState {
  return {
    subscriptionId: row.stripe_subscription_id,
    customerId: row.stripe_customer_id,
    userId: row.user_id,
    status: row.status,
    facts: {
      currentPeriodEnd: row.current_period_end,
      priceId: row.stripe_price_id,
      planSlug: row.plan_slug,
      period: (row.period === 'yearly' ? 'yearly' : 'monthly') satisfies Period,
      cancelAt: row.cancel_at,
      trialEnd: row.trial_end,
    },
    statusAt: row.status_at,
    statusFrom: row.status_from,
    statusSince: row.status_since,
    snapshotAt: row.snapshot_at,
    snapshotStatus: row.snapshot_status,
    snapshotFrom: row.snapshot_from,
    lastEventAt: row.last_event_at,
  };
}

/** One statement writing the states: inserted, or every column but the key set from them (and `updated_at`). */
export function upsertSubscriptions(states: Iterable<SubscriptionState>): string {
  const values = NAMES.map((c) => (kindOf(c) === 'time' ? `to_timestamp(v.${c})` : `v.${c}`));
  const types = NAMES.map((c) => `${c} ${RECORDSET_TYPE[kindOf(c)]}`);
  const set = NAMES.filter((c) => c !== SUBSCRIPTION_KEY).map((c) => `${c} = excluded.${c}`);
  return `
      insert into subscriptions (${NAMES.join(', ')})
      select ${values.join(', ')}
      from jsonb_to_recordset(${jsonb([...states].map(rowOf))}) as v(${types.join(', ')})
      on conflict (${SUBSCRIPTION_KEY}) do update set ${[...set, 'updated_at = now()'].join(', ')}`;
}
