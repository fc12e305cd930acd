/**
 * Faults the fake Stripe API injects: rate limiting (429), server errors (5xx) and latency, on
 * the requests a rule matches, for a number of requests, every Nth one, or for a while (a storm).
 */

export interface FaultScope {
  /** Which requests: a path prefix (`/v1/subscriptions` matches `/v1/subscriptions/sub_1` too) or a pattern. @defaultValue every request */
  path?: string | RegExp;
  /** @defaultValue any method */
  method?: string;
}

/** When a rule fires; at most one of the four. @defaultValue `{ count: 1 }` */
export interface FaultTiming {
  /** The next `count` matching requests. */
  count?: number;
  /** Every Nth matching request (the Nth, 2Nth, …), for as long as the rule is in place. */
  everyNth?: number;
  /** Every matching request for this long from now (wall-clock milliseconds). */
  forMs?: number;
  /**
   * Every matching request beyond this many in the last second (those answered count, the refused
   * do not): a limiter like Stripe's (25 read requests per second in test mode, 100 live).
   */
  perSecond?: number;
}

export interface RateLimitFault extends FaultScope, FaultTiming {
  /**
   * `Retry-After` in seconds; `null` sends none. Stripe's rate-limit documentation promises no
   * such header, so a client must also cope without it.
   * @defaultValue the rest of a storm (rounded up), else 1
   */
  retryAfterSeconds?: number | null;
  /** The error's `code`: `rate_limit` (too many requests) or `lock_timeout` (an object locked by another request). @defaultValue 'rate_limit' */
  code?: 'rate_limit' | 'lock_timeout';
  /**
   * Sends `Stripe-Should-Retry: true|false`. stripe-node retries a 429 **only** when this header
   * says `true` (`RequestSender._shouldRetry`); without it, `maxNetworkRetries` does not apply and
   * the call throws `StripeRateLimitError` at once.
   * @defaultValue no header
   */
  shouldRetry?: boolean;
}

export interface ServerErrorFault extends FaultScope, FaultTiming {
  /** @defaultValue 500 */
  status?: number;
  /** Sends `Stripe-Should-Retry: true|false` (stripe-node retries any 5xx without it). @defaultValue no header */
  shouldRetry?: boolean;
}

export interface LatencyFault extends FaultScope, FaultTiming {
  /** Added before the answer, whatever the answer is. */
  ms: number;
}

/** A fault in place: how often it fired, and a way to lift it. */
export interface FaultHandle {
  readonly hits: number;
  remove(): void;
}

export type FaultKind = 'rate_limit' | 'server_error' | 'latency';

export interface FiredFault {
  kind: FaultKind;
  status?: number;
  headers: Record<string, string>;
  body?: unknown;
  latencyMs?: number;
}

interface Rule {
  kind: FaultKind;
  scope: FaultScope;
  timing: FaultTiming;
  startedAt: number;
  seen: number;
  hits: number;
  /** Times (ms) of the requests a `perSecond` rule let through in the last second. */
  admitted: number[];
  fire: (rule: Rule) => FiredFault;
}

const RATE_LIMIT_MESSAGES = {
  rate_limit: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
  lock_timeout: 'This object cannot be accessed right now because another API request or Stripe process is currently accessing it.',
};

export class FakeApiFaults {
  private rules: Rule[] = [];

  /** 429s in Stripe's shape (`{ error: { type: 'invalid_request_error', code: 'rate_limit', … } }`), with `Retry-After`. */
  rateLimit(fault: RateLimitFault = {}): FaultHandle {
    return this.add('rate_limit', fault, (rule) => {
      const headers: Record<string, string> = {};
      const remaining =
        rule.timing.forMs !== undefined ? Math.max(1, Math.ceil((rule.startedAt + rule.timing.forMs - Date.now()) / 1000)) : 1;
      const retryAfter = fault.retryAfterSeconds === undefined ? remaining : fault.retryAfterSeconds;
      if (retryAfter !== null) headers['retry-after'] = String(retryAfter);
      if (fault.shouldRetry !== undefined) headers['stripe-should-retry'] = String(fault.shouldRetry);
      const code = fault.code ?? 'rate_limit';
      return {
        kind: 'rate_limit',
        status: 429,
        headers,
        body: {
          error: {
            type: 'invalid_request_error',
            code,
            message: RATE_LIMIT_MESSAGES[code],
            doc_url: `https://stripe.com/docs/error-codes/${code.replace('_', '-')}`,
          },
        },
      };
    });
  }

  /** 5xx in Stripe's shape (`{ error: { type: 'api_error', … } }`). */
  serverError(fault: ServerErrorFault = {}): FaultHandle {
    return this.add('server_error', fault, () => ({
      kind: 'server_error',
      status: fault.status ?? 500,
      headers: fault.shouldRetry === undefined ? ({} as Record<string, string>) : { 'stripe-should-retry': String(fault.shouldRetry) },
      body: { error: { type: 'api_error', message: 'An unknown error occurred (injected by the fake Stripe API).' } },
    }));
  }

  /** Holds each matching answer `ms` milliseconds. */
  latency(fault: LatencyFault): FaultHandle {
    return this.add('latency', fault, () => ({ kind: 'latency', headers: {}, latencyMs: fault.ms }));
  }

  /** Lifts every fault. */
  clear(): void {
    this.rules = [];
  }

  /**
   * The faults for a request: the latency of every latency rule that fires, and the answer of the
   * first 429/5xx rule that fires (rules count the requests they match, in the order they were added).
   */
  evaluate(method: string, path: string): { latencyMs: number; answer?: FiredFault } {
    let latencyMs = 0;
    let answer: FiredFault | undefined;
    const now = Date.now();
    for (const rule of this.rules) {
      if (!matches(rule.scope, method, path)) continue;
      rule.seen += 1;
      if (rule.kind !== 'latency' && answer !== undefined) continue;
      if (!fires(rule, now)) continue;
      rule.hits += 1;
      const fired = rule.fire(rule);
      if (fired.kind === 'latency') latencyMs += fired.latencyMs ?? 0;
      else answer = fired;
    }
    return { latencyMs, answer };
  }

  private add(kind: FaultKind, fault: FaultScope & FaultTiming, fire: (rule: Rule) => FiredFault): FaultHandle {
    const timings = { count: fault.count, everyNth: fault.everyNth, forMs: fault.forMs, perSecond: fault.perSecond };
    const given = Object.values(timings).filter((v) => v !== undefined).length;
    if (given > 1) throw new Error('FakeApiFaults: give one of count, everyNth, forMs, perSecond');
    for (const [name, value] of Object.entries(timings)) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0))
        throw new Error(`FakeApiFaults: ${name} must be a positive integer`);
    }
    const timing: FaultTiming = given === 0 ? { count: 1 } : timings;
    const rule: Rule = {
      kind,
      scope: { path: fault.path, method: fault.method },
      timing,
      startedAt: Date.now(),
      seen: 0,
      hits: 0,
      admitted: [],
      fire,
    };
    this.rules.push(rule);
    return {
      get hits() {
        return rule.hits;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== rule);
      },
    };
  }
}

function matches(scope: FaultScope, method: string, path: string): boolean {
  if (scope.method !== undefined && scope.method.toUpperCase() !== method) return false;
  if (scope.path === undefined) return true;
  return typeof scope.path === 'string'
    ? path === scope.path || path.startsWith(`${scope.path.replace(/\/$/, '')}/`)
    : scope.path.test(path);
}

function fires(rule: Rule, now: number): boolean {
  const { count, everyNth, forMs, perSecond } = rule.timing;
  if (count !== undefined) return rule.hits < count;
  if (everyNth !== undefined) return rule.seen % everyNth === 0;
  if (forMs !== undefined) return now < rule.startedAt + forMs;
  rule.admitted = rule.admitted.filter((t) => t > now - 1_000);
  if (rule.admitted.length >= perSecond!) return true;
  rule.admitted.push(now);
  return false;
}
