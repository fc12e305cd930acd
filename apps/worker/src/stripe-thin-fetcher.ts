import { createStripeClient } from '@billing/runtime/stripe-client';
import type { StripeApiOptions } from './stripe-subscription-fetcher';
import type { ThinObjectFetcher } from './thin-events';

/**
 * `fetchObject` for thin events: retrieves the subscription, invoice or checkout session a thin
 * event names, with the official SDK. No SDK retries: a 429 goes back to the queue (delayed, no
 * attempt spent) and any other failure is retried by the queue with backoff.
 */
export function stripeThinFetcher(options: StripeApiOptions): ThinObjectFetcher {
  const stripe = createStripeClient(options.secretKey, {
    apiBase: options.apiBase,
    timeoutMs: options.timeoutMs ?? 3_000,
    maxNetworkRetries: 0,
  });
  const retrieve = {
    subscription: (id: string) => stripe.subscriptions.retrieve(id),
    invoice: (id: string) => stripe.invoices.retrieve(id),
    'checkout.session': (id: string) => stripe.checkout.sessions.retrieve(id),
  };
  return async (kind, id) => (await retrieve[kind](id)) as unknown as Record<string, unknown>;
}
