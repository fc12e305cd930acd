import type { ChangedFrom, Period } from '../lifecycle-input';
import type { SubscriptionState } from '../lifecycle';

/** The `subscriptions` columns the rules read and write, times as Unix seconds (`SUBSCRIPTION_SELECT`). */
export interface SubscriptionRow {
  stripe_subscription_id: string;
  stripe_customer_id: string | null;
  user_id: number | null;
  status: string;
  plan_slug: string;
  period: string;
  stripe_price_id: string | null;
  current_period_end: number | null;
  cancel_at: number | null;
  trial_end: number | null;
  status_at: number | null;
  status_from: string | null;
  snapshot_at: number | null;
  snapshot_status: string | null;
  snapshot_from: ChangedFrom | null;
  last_event_at: number | null;
}

const TIME_COLUMNS = ['current_period_end', 'cancel_at', 'trial_end', 'status_at', 'snapshot_at', 'last_event_at'];
const OTHER_COLUMNS = [
  'stripe_subscription_id',
  'stripe_customer_id',
  'user_id',
  'status',
  'plan_slug',
  'period',
  'stripe_price_id',
  'status_from',
  'snapshot_status',
  'snapshot_from',
];

/** The select list of `SubscriptionRow`: times as epoch seconds, whatever the client's date parsing (Drizzle leaves them strings). */
export const SUBSCRIPTION_SELECT = [...OTHER_COLUMNS, ...TIME_COLUMNS.map((c) => `floor(extract(epoch from ${c}))::float8 as ${c}`)].join(
  ', ',
);

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
    snapshotAt: row.snapshot_at,
    snapshotStatus: row.snapshot_status,
    snapshotFrom: row.snapshot_from,
    lastEventAt: row.last_event_at,
  };
}

/** A state as one record of the `jsonb_to_recordset` the upsert reads (times in Unix seconds). */
export function recordFromState(state: SubscriptionState): Record<string, unknown> {
  return {
    id: state.subscriptionId,
    customer: state.customerId,
    user_id: state.userId,
    status: state.status,
    plan_slug: state.facts.planSlug,
    period: state.facts.period,
    price: state.facts.priceId,
    current_period_end: state.facts.currentPeriodEnd,
    cancel_at: state.facts.cancelAt,
    trial_end: state.facts.trialEnd,
    status_at: state.statusAt,
    status_from: state.statusFrom,
    snapshot_at: state.snapshotAt,
    snapshot_status: state.snapshotStatus,
    snapshot_from: state.snapshotFrom,
    last_event_at: state.lastEventAt,
  };
}
