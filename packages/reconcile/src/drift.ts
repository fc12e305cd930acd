import { subscriptionFacts, type BillingConfig, type SubscriptionFacts } from '@billing/billing';

/**
 * The drift classes (docs/operations.md "Reconcile"): what differs between our rows and Stripe's
 * subscription objects.
 * - `missing_local`: Stripe has the subscription, we have no row;
 * - `missing_remote`: we have a row Stripe does not know (404);
 * - `status`; `period` (`current_period_end`); `price_plan` (price, plan, monthly/yearly);
 *   `cancellation` (`cancel_at`, or the period end while `cancel_at_period_end`); `trial` (`trial_end`);
 * - `user_status`: the user side — the user's derived status is not the most favourable of Stripe's
 *   statuses of their subscriptions, or the row names another customer than Stripe's object.
 */
export const DRIFT_CLASSES = [
  'missing_local',
  'missing_remote',
  'status',
  'period',
  'price_plan',
  'cancellation',
  'trial',
  'user_status',
] as const;
export type DriftClass = (typeof DRIFT_CLASSES)[number];

type Seconds = number;

/** A `subscriptions` row as reconcile reads it (times in Unix seconds). */
export interface StoredSubscription extends SubscriptionFacts {
  subscriptionId: string;
  customerId: string | null;
  userId: number | null;
  status: string;
  /** `created` of the newest event applied to the row. */
  lastEventAt: Seconds | null;
}

/** A user with subscriptions: its bound customer and derived status. */
export interface StoredUser {
  userId: number;
  customerId: string | null;
  status: string | null;
}

/** Stripe's subscription object, read with the same rules the worker applies (plan and period from the price, `cancel_at`…). */
export interface RemoteSubscription extends SubscriptionFacts {
  subscriptionId: string;
  customerId: string | null;
  status: string;
}

/** One difference: ours → Stripe's, as text a report prints (`null`: none). */
export interface Drift {
  subscriptionId: string;
  customerId: string | null;
  userId: number | null;
  class: DriftClass;
  ours: string | null;
  stripe: string | null;
  /** `created` of the newest event applied to our row (Unix seconds), when we have one. */
  lastEventAt: Seconds | null;
}

/** A difference left out because events still queued for the subscription or its customer explain it. */
export interface SkippedDrift extends Drift {
  reason: string;
}

/** The facts of a subscription object from the Stripe API, as the lifecycle rules read a snapshot's. */
export function remoteSubscription(object: Record<string, unknown>, config: BillingConfig): RemoteSubscription {
  if (typeof object.id !== 'string' || typeof object.status !== 'string') {
    throw new TypeError('reconcile: Stripe returned a subscription without an id or status');
  }
  const customer = object.customer;
  const customerId =
    typeof customer === 'string'
      ? customer
      : typeof customer === 'object' && customer !== null && typeof (customer as { id?: unknown }).id === 'string'
        ? (customer as { id: string }).id
        : null;
  return { subscriptionId: object.id, customerId, status: object.status, ...subscriptionFacts(object, config) };
}
