import type { ApplyOptions } from '@billing/billing';
import { createStripeClient } from '@billing/runtime/stripe-client';
import type { StripeApiOptions } from './stripe-subscription-fetcher';

/**
 * `fetchEntitlements` for entitlements summaries that said `has_more`: every page of the
 * customer's active entitlements (`GET /v1/entitlements/active_entitlements`, 100 a page) with the
 * official SDK (short timeout, at most one SDK retry per page); the billing domain stores the lookup
 * keys as a snapshot dated when the listing began.
 */
export function stripeEntitlementsFetcher(options: StripeApiOptions): NonNullable<ApplyOptions['fetchEntitlements']> {
  const stripe = createStripeClient(options.secretKey, {
    apiBase: options.apiBase,
    timeoutMs: options.timeoutMs ?? 3_000,
    maxNetworkRetries: 1,
  });
  return async (customer) => {
    const keys: string[] = [];
    for await (const entitlement of stripe.entitlements.activeEntitlements.list({ customer, limit: 100 }))
      keys.push(entitlement.lookup_key);
    return keys;
  };
}
