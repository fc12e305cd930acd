import Stripe from 'stripe';

export interface StripeClientOptions {
  /** Another API host (a local fake, stripe-mock): `http://127.0.0.1:12111` (`STRIPE_API_BASE`). */
  apiBase?: string;
  /** @defaultValue 30000 */
  timeoutMs?: number;
  /** @defaultValue 2 */
  maxNetworkRetries?: number;
}

/**
 * The official SDK client for the worker and the operator scripts. `apiBase` points it at
 * another host: host, port and protocol are set on the client, since the SDK has no per-request
 * host since v22.
 */
export function createStripeClient(secretKey: string, options: StripeClientOptions = {}): Stripe {
  const config: ConstructorParameters<typeof Stripe>[1] = {
    telemetry: false,
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
    timeout: options.timeoutMs ?? 30_000,
  };
  if (options.apiBase) {
    const url = new URL(options.apiBase);
    const protocol = url.protocol === 'http:' ? 'http' : 'https';
    Object.assign(config, { host: url.hostname, port: Number(url.port || (protocol === 'http' ? 80 : 443)), protocol });
  }
  return new Stripe(secretKey, config);
}
