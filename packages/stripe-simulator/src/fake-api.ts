import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { objectInVersion } from './api-shape';
import { API_VERSIONS } from './events';
import { FakeApiFaults, type FaultKind } from './fake-api-faults';
import { FakeStripeState, SUBSCRIPTION_STATUS_FILTERS, type ServedObjectType, type SubscriptionStatusFilter } from './fake-stripe-state';
import { StripeApiError } from './stripe-api-error';
import {
  arrayParam,
  booleanParam,
  LIST_PARAMS,
  pageParams,
  parseQuery,
  type Query,
  rangeParam,
  refuseUnknown,
  stringParam,
} from './stripe-query';

/**
 * A fake Stripe API for tests, the demo and the operator scripts: a small HTTP server on
 * 127.0.0.1 that answers what the official `stripe` SDK sends (`createStripeClient(key, {
 * apiBase: api.url })`, or `STRIPE_API_BASE=<api.url>` for a child process), from the truth of
 * simulated histories (`FakeStripeState`: load histories, seed drift by hand). Lists page and
 * filter as Stripe's do, errors have Stripe's shape, and faults (429 with `Retry-After`, 5xx,
 * latency) can be injected. Every request is logged, so a test can count fetches.
 *
 * Served, GET only: `/v1/events` (+ `/:id`), `/v1/subscriptions` (+ `/:id`), `/v1/invoices/:id`,
 * `/v1/checkout/sessions/:id`, `/v1/entitlements/active_entitlements` (+ `/:id`). Objects are
 * rendered in the request's `Stripe-Version` (the SDK's pinned version); events keep the version
 * they were created in, as Stripe's do. Unknown parameters are refused as Stripe refuses them
 * (400 `parameter_unknown`), and so is `expand` (nothing is expanded here).
 */

export interface FakeStripeApiOptions {
  /**
   * The API keys accepted (`Authorization: Bearer <key>`, or Basic with the key as user).
   * @defaultValue any `sk_test_…` or `rk_test_…` key
   */
  apiKeys?: readonly string[];
  /** Unix seconds "now" (the end of the 30-day event window). @defaultValue the wall clock */
  now?: () => number;
  /** The version objects are rendered in when a request names none. @defaultValue the SDK's pinned version (2026-10-28.endive) */
  defaultApiVersion?: string;
  /** @defaultValue 0 (a free port) */
  port?: number;
}

export interface LoggedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** When it arrived (ms since the epoch). */
  time: number;
  /** The `Authorization` header as sent. */
  authorization: string | undefined;
  /** The key it carried, if any. */
  apiKey: string | undefined;
  stripeVersion: string | undefined;
  /** The status answered (set once answered; undefined while a latency fault holds it). */
  status?: number;
  /** The injected fault that answered or delayed it. */
  fault?: FaultKind;
}

type Json = Record<string, unknown>;

interface RequestContext {
  apiVersion: string;
}

type Handler = (params: string[], query: Query, context: RequestContext) => unknown;

export class FakeStripeApi extends FakeStripeState {
  /** Every request, in arrival order. */
  readonly requests: LoggedRequest[] = [];
  readonly faults = new FakeApiFaults();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | undefined;
  private baseUrl = '';

  constructor(private readonly options: FakeStripeApiOptions = {}) {
    super(options.now);
  }

  /** `http://127.0.0.1:<port>`: `STRIPE_API_BASE`, or `createStripeClient(key, { apiBase })`. */
  get url(): string {
    return this.baseUrl;
  }

  /** The requests to `path` (a path prefix, or a pattern), with `method` (default GET). */
  requestsTo(path: string | RegExp, method = 'GET'): LoggedRequest[] {
    return this.requests.filter(
      (r) => r.method === method && (typeof path === 'string' ? r.path === path || r.path.startsWith(`${path}/`) : path.test(r.path)),
    );
  }

  /** Forgets the seeded truth, the request log and the faults; keeps the keys and the clock. */
  reset(): void {
    this.clear();
    this.requests.length = 0;
    this.faults.clear();
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Stops listening and drops open connections (the SDK keeps sockets alive); answers held by latency are dropped. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const authorization = req.headers.authorization;
    const stripeVersion = header(req, 'stripe-version');
    const entry: LoggedRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      time: Date.now(),
      authorization,
      apiKey: apiKeyOf(authorization),
      stripeVersion,
    };
    this.requests.push(entry);
    req.resume(); // a body (never expected) is drained, not read
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      if (res.destroyed) return;
      res
        .writeHead(status, {
          'content-type': 'application/json',
          'request-id': `req_${randomBytes(7).toString('hex')}`,
          'stripe-version': stripeVersion ?? this.options.defaultApiVersion ?? API_VERSIONS.basil,
          ...headers,
        })
        .end(JSON.stringify(body));
    };
    try {
      const { latencyMs, answer } = this.faults.evaluate(method, url.pathname);
      if (latencyMs > 0) {
        entry.fault = 'latency';
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            resolve();
          }, latencyMs);
          this.timers.add(timer);
        });
        if (!this.server) return; // closed meanwhile
      }
      this.authenticate(entry);
      if (answer) {
        entry.fault = answer.kind;
        reply(answer.status!, answer.body, answer.headers);
        return;
      }
      const body = this.route(method, url, { apiVersion: stripeVersion ?? this.options.defaultApiVersion ?? API_VERSIONS.basil });
      reply(200, body);
    } catch (error) {
      if (error instanceof StripeApiError) reply(error.status, error.body);
      else reply(500, { error: { type: 'api_error', message: `Fake Stripe API failure: ${(error as Error).message}` } });
    }
  }

  private authenticate(entry: LoggedRequest): void {
    const key = entry.apiKey;
    if (key === undefined) {
      throw new StripeApiError(
        401,
        'invalid_request_error',
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      );
    }
    const accepted = this.options.apiKeys ? this.options.apiKeys.includes(key) : /^(sk|rk)_test_\w+$/.test(key);
    if (!accepted) throw new StripeApiError(401, 'invalid_request_error', `Invalid API Key provided: ${redact(key)}`);
  }

  private route(method: string, url: URL, context: RequestContext): unknown {
    for (const [pattern, handler] of this.routes) {
      const match = pattern.exec(url.pathname);
      if (!match) continue;
      if (method !== 'GET') break;
      return handler(match.slice(1).map(decodeURIComponent), parseQuery(url.searchParams), context);
    }
    throw new StripeApiError(
      404,
      'invalid_request_error',
      `Unrecognized request URL (${method}: ${url.pathname}). The fake Stripe API serves GET ${SERVED_PATHS.join(', ')}.`,
    );
  }

  private readonly routes: Array<[RegExp, Handler]> = [
    [/^\/v1\/events$/, (_, query) => this.eventsList(query)],
    [/^\/v1\/events\/([^/]+)$/, ([id], query) => this.retrieve(query, () => this.event(id!), 'event', id!)],
    [/^\/v1\/subscriptions$/, (_, query, context) => this.subscriptionsList(query, context)],
    [/^\/v1\/subscriptions\/([^/]+)$/, ([id], query, context) => this.retrieveObject('subscription', id!, query, context)],
    [/^\/v1\/invoices\/([^/]+)$/, ([id], query, context) => this.retrieveObject('invoice', id!, query, context)],
    [/^\/v1\/checkout\/sessions\/([^/]+)$/, ([id], query, context) => this.retrieveObject('checkout.session', id!, query, context)],
    [/^\/v1\/entitlements\/active_entitlements$/, (_, query) => this.entitlementsList(query)],
    [
      /^\/v1\/entitlements\/active_entitlements\/([^/]+)$/,
      ([id], query) => this.retrieve(query, () => this.entitlement(id!), 'active entitlement', id!),
    ],
  ];

  private retrieve(query: Query, find: () => unknown, kind: string, id: string): unknown {
    refuseUnknown(query, []);
    const found = find();
    if (found === undefined) throw StripeApiError.missing(kind, id);
    return found;
  }

  private retrieveObject(type: ServedObjectType, id: string, query: Query, context: RequestContext): unknown {
    return this.retrieve(
      query,
      () => {
        const object = this.object(type, id);
        return object && objectInVersion(object, context.apiVersion);
      },
      type,
      id,
    );
  }

  private eventsList(query: Query): Json {
    refuseUnknown(query, [...LIST_PARAMS, 'type', 'types', 'created', 'delivery_success']);
    const type = stringParam(query, 'type');
    const types = arrayParam(query, 'types');
    if (type !== undefined && types !== undefined)
      throw StripeApiError.invalid('types', 'You may pass either `type` or `types`, but not both.');
    if (types !== undefined && types.length > 20)
      throw StripeApiError.invalid('types', `types: at most 20 event types (got ${types.length}).`);
    const page = this.listEvents(
      {
        types: type !== undefined ? [type] : types,
        created: rangeParam(query, 'created'),
        deliverySuccess: booleanParam(query, 'delivery_success'),
      },
      pageParams(query),
    );
    return { object: 'list', url: '/v1/events', has_more: page.has_more, data: page.data };
  }

  private subscriptionsList(query: Query, context: RequestContext): Json {
    refuseUnknown(query, [...LIST_PARAMS, 'status', 'customer', 'price', 'created']);
    const status = stringParam(query, 'status');
    if (status !== undefined && !(SUBSCRIPTION_STATUS_FILTERS as readonly string[]).includes(status)) {
      throw StripeApiError.invalid(
        'status',
        `Invalid status: must be one of ${SUBSCRIPTION_STATUS_FILTERS.join(', ')}`,
        'parameter_invalid_string',
      );
    }
    const page = this.listSubscriptions(
      {
        status: status as SubscriptionStatusFilter | undefined,
        customer: stringParam(query, 'customer'),
        price: stringParam(query, 'price'),
        created: rangeParam(query, 'created'),
      },
      pageParams(query),
    );
    return {
      object: 'list',
      url: '/v1/subscriptions',
      has_more: page.has_more,
      data: page.data.map((s) => objectInVersion(s, context.apiVersion)),
    };
  }

  private entitlementsList(query: Query): Json {
    refuseUnknown(query, [...LIST_PARAMS, 'customer']);
    const customer = stringParam(query, 'customer');
    if (customer === undefined) throw StripeApiError.invalid('customer', 'Missing required param: customer.', 'parameter_missing');
    const page = this.listEntitlements(customer, pageParams(query));
    return { object: 'list', url: '/v1/entitlements/active_entitlements', has_more: page.has_more, data: page.data };
  }
}

const SERVED_PATHS = [
  '/v1/events',
  '/v1/events/:id',
  '/v1/subscriptions',
  '/v1/subscriptions/:id',
  '/v1/invoices/:id',
  '/v1/checkout/sessions/:id',
  '/v1/entitlements/active_entitlements',
  '/v1/entitlements/active_entitlements/:id',
];

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function apiKeyOf(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+(\S+)$/i.exec(authorization);
  if (basic) return Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0] || undefined;
  return undefined;
}

/** As Stripe shows a wrong key: its prefix and last four characters. */
function redact(key: string): string {
  const prefix = /^[a-z]+_(test|live)_/.exec(key)?.[0] ?? '';
  return `${prefix}${'*'.repeat(Math.max(0, key.length - prefix.length - 4))}${key.slice(-4)}`;
}

/** Starts a fake Stripe API on 127.0.0.1 (a free port unless `options.port`); `await api.close()` when done. */
export async function startFakeStripeApi(options: FakeStripeApiOptions = {}): Promise<FakeStripeApi> {
  const api = new FakeStripeApi(options);
  await api.listen();
  return api;
}

export { FakeApiFaults, type FaultHandle, type LatencyFault, type RateLimitFault, type ServerErrorFault } from './fake-api-faults';
export {
  EVENT_RETENTION_SECONDS,
  FakeStripeState,
  SUBSCRIPTION_STATUS_FILTERS,
  type AddEventOptions,
  type SubscriptionStatusFilter,
} from './fake-stripe-state';
export { StripeApiError } from './stripe-api-error';
