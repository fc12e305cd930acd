import Stripe from 'stripe';

/**
 * The official SDK client for operator scripts. `apiBase` (STRIPE_API_BASE) points it at
 * another host, such as a local fake in tests: host, port and protocol are set on the client,
 * since the SDK has no per-request host since v22.
 */
export function createStripeClient(secretKey: string, apiBase?: string): Stripe {
  const options: ConstructorParameters<typeof Stripe>[1] = { telemetry: false, maxNetworkRetries: 2, timeout: 30_000 };
  if (apiBase) {
    const url = new URL(apiBase);
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    Object.assign(options, { host: url.hostname, port: Number(url.port || (protocol === 'http' ? 80 : 443)), protocol });
  }
  return new Stripe(secretKey, options);
}
