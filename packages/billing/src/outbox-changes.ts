import type { OutboxType } from '@billing/db/schema';
import type { AccessDecision } from './access-policy';
import type { Seconds } from './lifecycle-input';
import type { SubscriptionState } from './lifecycle';
import { isTerminal } from './statuses';

/**
 * docs/design.md "Host application contract": which outbox rows a change of billing state writes.
 * Rows come from comparing what the host has been told of a subject (its rows so far: `published`)
 * with the subject's state now — never from the Stripe event's type. Pure.
 *
 * A subscription is told by its published fields `status`, `plan_slug`, `period`, `price_id`,
 * `cancel_at`. Its other fields (period end, trial end, user, customer) travel in each row's `data` but
 * write no row of their own. A subscription whose status is provisional (no Stripe subscription object
 * applied yet) is not told at all: it is `created` when its object arrives.
 *
 * | published before → now | rows, in this order |
 * |---|---|
 * | nothing → a state | `subscription.created` (every field but those the next rows name); then the status's row, if its status has one (below, from nothing); then `.cancellation_scheduled` when `cancel_at` is set |
 * | plan, period or price differ | `subscription.plan_changed` |
 * | status → `active` | `.recovered` from `past_due` or `unpaid`; `.resumed` from `paused`; else `.activated` |
 * | status → `trialing` | `.resumed` from `paused`; else `.trial_started` |
 * | status → `past_due`, `unpaid`, `paused` | `.past_due`, `.unpaid`, `.paused` |
 * | status → `canceled` or `incomplete_expired` | `.ended`, only from a status that is not one of them (so once); for a subscription told before, it names the `cancel_at` change too |
 * | `cancel_at` null → set, or set → another time | `.cancellation_scheduled` |
 * | `cancel_at` set → null | `.cancellation_withdrawn` |
 *
 * A status change no row names (to `incomplete`, between the two terminal statuses, to a status the
 * contract does not know — none of which Stripe makes after a subscription's first object) rides in
 * the `changes` of the change's last row, or, when the change writes no row, of the subject's next
 * row: `changes` always starts from what the host was last told, so each field's `from` is the `to`
 * of the row that last named it.
 *
 * A user is told `has_access`, `plan_slug` (null without access) and `entitlements`:
 * | before → now | row |
 * |---|---|
 * | no access → access | `user.access_granted` (`has_access`, `plan_slug`) |
 * | access → no access | `user.access_revoked` (`has_access`, `plan_slug`) |
 * | access both, another plan | `user.plan_changed` |
 * | another set of entitlements | `user.entitlements_changed` |
 * A user without a `billing_access` row has been told no access, no plan, no entitlements.
 */

/** What a subscription's rows have told the host (`billing_outbox_subjects.state`); times in Unix seconds. */
export interface PublishedSubscription {
  status: string;
  plan_slug: string;
  period: string;
  price_id: string | null;
  cancel_at: Seconds | null;
}

export interface PublishedUser {
  has_access: boolean;
  plan_slug: string | null;
  /** Sorted. */
  entitlements: string[];
}

export const NOTHING_TOLD: PublishedUser = { has_access: false, plan_slug: null, entitlements: [] };

/** One row's type and its `changes` (field → [from, to], raw values: times in seconds). */
export interface OutboxChange {
  type: OutboxType;
  changes: Record<string, [unknown, unknown]>;
}

type SubscriptionField = keyof PublishedSubscription;
const PLAN_FIELDS: SubscriptionField[] = ['plan_slug', 'period', 'price_id'];
const SUBSCRIPTION_FIELDS: SubscriptionField[] = ['status', ...PLAN_FIELDS, 'cancel_at'];

/** The subscription as the host is told it; null while its status is provisional. */
export function publishedOf(state: SubscriptionState): PublishedSubscription | null {
  if (state.snapshotAt === null) return null;
  return {
    status: state.status,
    plan_slug: state.facts.planSlug,
    period: state.facts.period,
    price_id: state.facts.priceId,
    cancel_at: state.facts.cancelAt,
  };
}

/** The status row of a move from `from` (null: nothing told yet) to `to`; undefined when no row names it. */
export function statusType(from: string | null, to: string): OutboxType | undefined {
  if (from === to) return undefined;
  switch (to) {
    case 'active':
      return from === 'past_due' || from === 'unpaid'
        ? 'subscription.recovered'
        : from === 'paused'
          ? 'subscription.resumed'
          : 'subscription.activated';
    case 'trialing':
      return from === 'paused' ? 'subscription.resumed' : 'subscription.trial_started';
    case 'past_due':
      return 'subscription.past_due';
    case 'unpaid':
      return 'subscription.unpaid';
    case 'paused':
      return 'subscription.paused';
    case 'canceled':
    case 'incomplete_expired':
      return from !== null && isTerminal(from) ? undefined : 'subscription.ended';
    default:
      return undefined;
  }
}

/**
 * The rows a subscription's change writes, from what was told (`published`, null: nothing yet) to
 * `now` (null: provisional, nothing to tell), and what has been told after them.
 */
export function subscriptionChanges(
  published: PublishedSubscription | null,
  now: PublishedSubscription | null,
): { rows: OutboxChange[]; published: PublishedSubscription | null } {
  if (now === null) return { rows: [], published };
  const before: Record<SubscriptionField, unknown> = published ?? {
    status: null,
    plan_slug: null,
    period: null,
    price_id: null,
    cancel_at: null,
  };
  const differing = SUBSCRIPTION_FIELDS.filter((f) => before[f] !== now[f]);
  const claimed = new Set<SubscriptionField>();
  const planned: Array<{ type: OutboxType; fields: SubscriptionField[] }> = [];
  const status = differing.includes('status') ? statusType(published?.status ?? null, now.status) : undefined;
  const cancellation = !differing.includes('cancel_at')
    ? undefined
    : now.cancel_at === null
      ? 'subscription.cancellation_withdrawn'
      : 'subscription.cancellation_scheduled';
  const ends = status === 'subscription.ended';
  // An ending names the cancellation's change itself; a new subscription's `created` names everything else.
  const cancellationRow = ends ? undefined : cancellation;

  if (published === null) {
    const own = differing.filter((f) => !(f === 'status' && status) && !(f === 'cancel_at' && cancellationRow));
    planned.push({ type: 'subscription.created', fields: own });
  } else if (PLAN_FIELDS.some((f) => differing.includes(f))) {
    planned.push({ type: 'subscription.plan_changed', fields: PLAN_FIELDS.filter((f) => differing.includes(f)) });
  }
  if (status) {
    planned.push({
      type: status,
      fields: ends && published !== null && differing.includes('cancel_at') ? ['status', 'cancel_at'] : ['status'],
    });
  }
  if (cancellationRow) planned.push({ type: cancellationRow, fields: ['cancel_at'] });
  for (const row of planned) for (const f of row.fields) claimed.add(f);
  const last = planned.at(-1);
  if (!last) return { rows: [], published };
  // A status move no row names rides with the change's last row.
  last.fields.push(...differing.filter((f) => !claimed.has(f)));

  const rows = planned.map(({ type, fields }) => ({
    type,
    changes: Object.fromEntries(fields.map((f) => [f, [before[f], now[f]]])) as Record<string, [unknown, unknown]>,
  }));
  return { rows, published: { ...now } };
}

/** The rows a user's new decision writes, from what was told. */
export function userChanges(published: PublishedUser, now: PublishedUser): OutboxChange[] {
  const rows: OutboxChange[] = [];
  const plan: Record<string, [unknown, unknown]> =
    published.plan_slug === now.plan_slug ? {} : { plan_slug: [published.plan_slug, now.plan_slug] };
  if (published.has_access !== now.has_access) {
    rows.push({
      type: now.has_access ? 'user.access_granted' : 'user.access_revoked',
      changes: { has_access: [published.has_access, now.has_access], ...plan },
    });
  } else if (Object.keys(plan).length > 0) {
    rows.push({ type: 'user.plan_changed', changes: plan });
  }
  if (published.entitlements.join('\u0000') !== now.entitlements.join('\u0000')) {
    rows.push({ type: 'user.entitlements_changed', changes: { entitlements: [published.entitlements, now.entitlements] } });
  }
  return rows;
}

/** The `data` of a subscription's row: its state after the change, times as ISO 8601, and the row's `changes`. */
export function subscriptionData(state: SubscriptionState, changes: OutboxChange['changes']): Record<string, unknown> {
  return {
    subscription_id: state.subscriptionId,
    customer_id: state.customerId,
    user_id: state.userId,
    status: state.status,
    status_since: isoOrNull(state.statusSince ?? state.statusAt),
    plan_slug: state.facts.planSlug,
    period: state.facts.period,
    price_id: state.facts.priceId,
    current_period_end: isoOrNull(state.facts.currentPeriodEnd),
    cancel_at: isoOrNull(state.facts.cancelAt),
    trial_end: isoOrNull(state.facts.trialEnd),
    changes: payloadChanges(changes, ['cancel_at']),
  };
}

/** What a user's rows and `billing_access` hold. */
export interface UserAccess extends AccessDecision {
  customerId: string | null;
  /** Sorted. */
  entitlements: string[];
  entitlementsComplete: boolean;
}

export function userPublished(access: Pick<UserAccess, 'hasAccess' | 'planSlug' | 'entitlements'>): PublishedUser {
  return { has_access: access.hasAccess, plan_slug: access.planSlug, entitlements: access.entitlements };
}

export function userData(userId: number, access: UserAccess, changes: OutboxChange['changes']): Record<string, unknown> {
  return {
    user_id: userId,
    customer_id: access.customerId,
    has_access: access.hasAccess,
    plan_slug: access.planSlug,
    reason: access.reason,
    access_until: isoOrNull(access.accessUntil),
    subscription_id: access.subscriptionId,
    entitlements: access.entitlements,
    entitlements_complete: access.entitlementsComplete,
    changes: payloadChanges(changes, []),
  };
}

function payloadChanges(changes: OutboxChange['changes'], times: string[]): Record<string, [unknown, unknown]> {
  return Object.fromEntries(
    Object.entries(changes).map(([field, [from, to]]) =>
      times.includes(field) ? [field, [isoOrNull(from as Seconds | null), isoOrNull(to as Seconds | null)]] : [field, [from, to]],
    ),
  );
}

function isoOrNull(seconds: Seconds | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString();
}
