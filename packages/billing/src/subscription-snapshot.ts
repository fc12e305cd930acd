import type { BillingConfig } from './config';
import type { ChangedFrom, Snapshot, SubscriptionFacts } from './lifecycle-input';
import { subscriptionPlan } from './plan';
import { isObject, listOf, secondsOf, type StripeObject } from './stripe-object';

/**
 * A subscription object as a snapshot: its status, its facts, and — from the event's
 * `previous_attributes` — what it changed from. Both payload shapes: `current_period_end` on
 * the subscription (API versions up to 2025-02-24) or on its items (2025-03-31 and later).
 */
export function subscriptionSnapshot(
  subscription: StripeObject,
  previousAttributes: unknown,
  config: BillingConfig,
  status: string,
): Snapshot {
  const facts = subscriptionFacts(subscription, config);
  const from: ChangedFrom = {};
  if (isObject(previousAttributes) && Object.keys(previousAttributes).length > 0) {
    // `previous_attributes` holds the previous values of the top-level keys that changed
    // (`items` as a whole list), so the object before the change is a shallow merge.
    const before = { ...subscription, ...previousAttributes };
    const previous = subscriptionFacts(before, config);
    for (const key of Object.keys(facts) as Array<keyof SubscriptionFacts>) {
      if (previous[key] !== facts[key]) (from as Record<string, unknown>)[key] = previous[key];
    }
    if (typeof before.status === 'string' && before.status !== status) from.status = before.status;
  }
  return { kind: 'snapshot', status, facts, from };
}

export function subscriptionFacts(subscription: StripeObject, config: BillingConfig): SubscriptionFacts {
  const currentPeriodEnd = subscriptionPeriodEnd(subscription);
  const scheduledAt = secondsOf(subscription.cancel_at);
  return {
    currentPeriodEnd,
    ...subscriptionPlan(subscription, config),
    cancelAt: scheduledAt ?? (subscription.cancel_at_period_end === true ? currentPeriodEnd : null),
    trialEnd: secondsOf(subscription.trial_end),
  };
}

/** Top-level `current_period_end` (older API versions), else the latest of its items'. */
export function subscriptionPeriodEnd(subscription: StripeObject): number | null {
  const topLevel = secondsOf(subscription.current_period_end);
  if (topLevel !== null) return topLevel;
  let latest: number | null = null;
  for (const item of listOf(subscription.items)) {
    const end = secondsOf(item.current_period_end);
    if (end !== null && (latest === null || end > latest)) latest = end;
  }
  return latest;
}
