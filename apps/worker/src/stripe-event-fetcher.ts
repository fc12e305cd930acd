import type { StripeEvent } from '@billing/queue';
import { createStripeClient } from '@billing/runtime/stripe-client';

/** An event from the Stripe Events API (kept 30 days), or `undefined` when Stripe has it no more. */
export function stripeEventFetcher(options: {
  secretKey: string;
  apiBase?: string;
}): (eventId: string) => Promise<StripeEvent | undefined> {
  const stripe = createStripeClient(options.secretKey, { apiBase: options.apiBase, timeoutMs: 10_000 });
  return async (eventId) => {
    try {
      return (await stripe.events.retrieve(eventId)) as unknown as StripeEvent;
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  };
}
