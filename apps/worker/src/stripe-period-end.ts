import Stripe from 'stripe';
import { subscriptionPeriodEnd } from '@billing/billing';

export interface StripeApiOptions {
  secretKey: string;
  /** Another API host (a local fake, stripe-mock): `http://127.0.0.1:12111`. */
  apiBase?: string;
  /** @defaultValue 3000 */
  timeoutMs?: number;
}

/**
 * `fetchPeriodEnd` for checkout enrichment: retrieves the subscription with the official SDK
 * (short timeout, at most one SDK retry) and reads its period end in either API shape.
 */
export function stripePeriodEndFetcher(options: StripeApiOptions): (subscriptionId: string) => Promise<Date | undefined> {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  const stripe = new Stripe(options.secretKey, {
    timeout: options.timeoutMs ?? 3_000,
    maxNetworkRetries: 1,
    telemetry: false,
    ...(base && {
      host: base.hostname,
      port: Number(base.port || (base.protocol === 'http:' ? 80 : 443)),
      protocol: base.protocol.replace(':', '') as 'http' | 'https',
    }),
  });
  return async (subscriptionId) => {
    const subscription = await stripe.subscriptions.retrieve(subscriptionId);
    return subscriptionPeriodEnd(subscription as unknown as Record<string, unknown>);
  };
}
