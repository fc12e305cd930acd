import { PRICES } from './corpus';
import type { SubscriptionHistory } from './history';

/**
 * What the row must hold once a history has been delivered, read from Stripe's own newest
 * subscription object (the history's final object) — never from running our rules.
 */
export interface ExpectedSubscription {
  subscriptionId: string;
  status: string;
  /** Unix seconds. */
  currentPeriodEnd: number | null;
  priceId: string;
  planSlug: string;
  period: 'monthly' | 'yearly';
  cancelAt: number | null;
  trialEnd: number | null;
}

type Json = Record<string, unknown>;

export function expectedSubscription(history: SubscriptionHistory): ExpectedSubscription {
  return expectedFromSubscriptionObject(history.final);
}

/** The same fields read from any subscription object of the test catalog, in either API shape (e.g. one the fake Stripe API served). */
export function expectedFromSubscriptionObject(object: Record<string, unknown>): ExpectedSubscription {
  const item = ((object.items as Json).data as Json[])[0] as Json;
  const price = item.price as Json & { id: string; recurring: { interval: string } };
  const periodEnd = (object.current_period_end ?? item.current_period_end) as number;
  const plan = Object.values(PRICES).find((p) => p.id === price.id)?.plan;
  if (plan === undefined) throw new Error(`expectedSubscription: price ${price.id} is not in the test catalog`);
  return {
    subscriptionId: object.id as string,
    status: object.status as string,
    currentPeriodEnd: periodEnd,
    priceId: price.id,
    planSlug: plan,
    period: price.recurring.interval === 'year' ? 'yearly' : 'monthly',
    // docs/design.md's column: the subscription's cancel_at, else the period end while cancel_at_period_end.
    cancelAt: (object.cancel_at as number | null) ?? (object.cancel_at_period_end === true ? periodEnd : null),
    trialEnd: object.trial_end as number | null,
  };
}

/** docs/design.md "The user's status": the most favourable of the user's subscriptions, in this order. */
const FAVOUR = ['active', 'trialing', 'past_due', 'unpaid', 'paused', 'incomplete', 'incomplete_expired', 'canceled'];

export function expectedUserStatus(subscriptionStatuses: readonly string[]): string | null {
  const ranked = [...subscriptionStatuses].sort((a, b) => FAVOUR.indexOf(a) - FAVOUR.indexOf(b));
  return ranked[0] ?? null;
}
