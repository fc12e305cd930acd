import type { ApplyOptions } from '@billing/billing';
import { createStripeClient } from '@billing/runtime/stripe-client';

export interface StripeApiOptions {
  secretKey: string;
  /** Another API host (a local fake, stripe-mock): `http://127.0.0.1:12111`. */
  apiBase?: string;
  /** @defaultValue 3000 */
  timeoutMs?: number;
}

/**
 * `fetchSubscription` for checkout events: retrieves the subscription with the official SDK
 * (short timeout, at most one SDK retry); the billing domain applies it as a snapshot.
 */
export function stripeSubscriptionFetcher(options: StripeApiOptions): NonNullable<ApplyOptions['fetchSubscription']> {
  const stripe = createStripeClient(options.secretKey, {
    apiBase: options.apiBase,
    timeoutMs: options.timeoutMs ?? 3_000,
    maxNetworkRetries: 1,
  });
  return async (subscriptionId) => (await stripe.subscriptions.retrieve(subscriptionId)) as unknown as Record<string, unknown>;
}
