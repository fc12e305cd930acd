import type { BillingConfig } from './config';
import type { Period } from './lifecycle-input';
import { billingMetadata, catalogSlug, metadataValue } from './metadata';
import { isObject, listOf, type StripeObject } from './stripe-object';

export interface SubscriptionPlan {
  priceId: string | null;
  planSlug: string;
  period: Period;
}

/**
 * docs/design.md "Plan and period": the plan follows the subscription's price — `PLAN_PRICES`, else
 * the price's `metadata.<prefix>plan_slug`, else its `lookup_key` when that is a catalog slug;
 * only when the price says nothing, the subscription's metadata. The period follows the price's
 * `recurring.interval` (`year` → `yearly`, else `monthly`); only without a price, the metadata.
 *
 * With several items, the first whose price names a catalog plan is the subscription's price
 * (a base plan beside add-ons); otherwise the first item's.
 */
export function subscriptionPlan(subscription: StripeObject, config: BillingConfig): SubscriptionPlan {
  const prices = listOf(subscription.items).map((item) => item.price);
  const named = prices.find((price) => isKnownPlan(planOfPrice(price, config)));
  const price = named ?? prices[0];
  const metadata = billingMetadata(subscription.metadata, config);
  if (price === undefined || price === null) {
    return { priceId: null, planSlug: metadata.planSlug ?? 'unknown', period: metadata.period ?? 'monthly' };
  }
  return {
    priceId: isObject(price) ? (typeof price.id === 'string' ? price.id : null) : typeof price === 'string' ? price : null,
    planSlug: planOfPrice(price, config) ?? metadata.planSlug ?? 'unknown',
    period: periodOfPrice(price),
  };
}

/** What the price says of the plan: a catalog slug, `unknown`, or `undefined` when it says nothing. */
export function planOfPrice(price: unknown, config: BillingConfig): string | undefined {
  const id = isObject(price) ? price.id : price;
  const mapped = typeof id === 'string' ? config.planPrices.get(id) : undefined;
  if (mapped !== undefined) return catalogSlug(mapped, config);
  if (!isObject(price)) return undefined;
  const fromMetadata = metadataValue(price.metadata, config, 'plan_slug');
  if (fromMetadata !== undefined) return catalogSlug(fromMetadata, config);
  if (typeof price.lookup_key === 'string' && catalogSlug(price.lookup_key, config) !== 'unknown') {
    return catalogSlug(price.lookup_key, config);
  }
  return undefined;
}

function isKnownPlan(slug: string | undefined): boolean {
  return slug !== undefined && slug !== 'unknown';
}

function periodOfPrice(price: unknown): Period {
  const recurring = isObject(price) && isObject(price.recurring) ? price.recurring : undefined;
  return recurring?.interval === 'year' ? 'yearly' : 'monthly';
}
