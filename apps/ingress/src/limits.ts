/**
 * What bounds one ingress process against slow or numerous clients, whatever their intent.
 * Stripe sends each delivery as one short request (bodies of a few KiB, rarely more than a few
 * hundred KiB), so every bound below leaves it a wide margin.
 */
export interface IngressLimits {
  /**
   * Longest time to receive a whole request, headers and body (Node's `requestTimeout`); a client
   * still sending after it gets 408 and its connection is closed.
   * @defaultValue 10000
   */
  requestTimeoutMs: number;
  /**
   * Longest time to receive a request's headers (Node's `headersTimeout`), at most `requestTimeoutMs`.
   * @defaultValue 5000
   */
  headersTimeoutMs: number;
  /**
   * Longest silence on a connection with a request in progress (Fastify's `connectionTimeout`).
   * @defaultValue 15000
   */
  connectionTimeoutMs: number;
  /**
   * How long an idle keep-alive connection stays open (Fastify's default: above the 60 s idle
   * timeout of common load balancers, so the balancer, not us, closes first).
   * @defaultValue 72000
   */
  keepAliveTimeoutMs: number;
  /**
   * Requests served on one keep-alive connection before it is closed, so long-lived connections
   * rotate across replicas; `0` = no limit. Node answers 503 to a client that ignores the
   * `Connection: close` of the last one and sends more on that connection (autocannon does;
   * Stripe and load balancers do not), so it is off unless a deployment needs the rotation.
   * @defaultValue 0
   */
  maxRequestsPerSocket: number;
  /**
   * Open connections accepted at once; more are closed on arrival (Node's `maxConnections`).
   * @defaultValue 1000
   */
  maxConnections: number;
  /**
   * Largest body accepted (413 beyond). The queue contract's default; no real Stripe event comes close.
   * @defaultValue 1048576 (1 MiB)
   */
  bodyLimitBytes: number;
  /**
   * Bodies declaring at most this many bytes are read without a reservation: at most
   * `maxConnections` × this, 62.5 MiB with the defaults. Larger ones (and bodies of unknown
   * length) share `largeBodyBudgetBytes`.
   * @defaultValue 65536 (64 KiB)
   */
  smallBodyBytes: number;
  /**
   * Bytes of large bodies being received at once; a large body that does not fit is answered
   * 503 `overloaded` (Stripe retries) without being read.
   * @defaultValue 33554432 (32 MiB)
   */
  largeBodyBudgetBytes: number;
}

export const DEFAULT_LIMITS: IngressLimits = {
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  connectionTimeoutMs: 15_000,
  keepAliveTimeoutMs: 72_000,
  maxRequestsPerSocket: 0,
  maxConnections: 1_000,
  bodyLimitBytes: 1024 * 1024,
  smallBodyBytes: 64 * 1024,
  largeBodyBudgetBytes: 32 * 1024 * 1024,
};

/** The defaults with `overrides` applied; the headers bound never exceeds the request bound. */
export function resolveLimits(overrides: Partial<IngressLimits> = {}): IngressLimits {
  const limits = { ...DEFAULT_LIMITS, ...overrides };
  return { ...limits, headersTimeoutMs: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) };
}
