import { jobIdFor, type EventQueue, type JobSigner, type QueueStore, type StripeEventJobData, type ThinEvent } from '@billing/queue';
import { thinJobPayload } from '@billing/billing/job-payload';
import type { Logger } from '@billing/runtime/logger';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import Stripe from 'stripe';
import { BodyBudget } from './body-budget';
import { EnqueueBatcher } from './enqueue-batcher';
import { catalogueErrorHandler, errorBody } from './errors';
import { signedJobData, type JobDataBuilder } from './job-data';
import { resolveLimits, type IngressLimits } from './limits';
import { createIngressMetrics } from './metrics';
import { operationsRoutes } from './operations-routes';
import { watchQueueStore } from './queue-watch';
import { verifyThinEvent, verifyWebhook } from './verify-webhook';
import { THIN_WEBHOOK_PATH, WEBHOOK_PATH, webhookRoute, type WebhookAcceptor } from './webhook-route';

/** An event destination's test delivery: answered 200, never queued. */
export const THIN_PING_TYPE = 'v2.core.event_destination.ping';

export interface IngressDeps {
  /** Where the queue lives (a producer store: fails fast while it is away); the caller closes it after the app. */
  store: QueueStore;
  /** The event queue on `store`; the caller closes it after the app. */
  queue: EventQueue;
  /** Webhook signing secrets, tried in order (several while rotating). */
  secrets: readonly string[];
  /** The thin events destination's secrets (`STRIPE_THIN_WEBHOOK_SECRET`); without any, no thin route. */
  thinSecrets?: readonly string[];
  /** @defaultValue `THIN_WEBHOOK_PATH` (`/stripe/thin-events`) */
  thinPath?: string;
  /** Signs each job for the worker (`QUEUE_SIGNING_KEY`). */
  signer: JobSigner;
  logger: Logger;
  /** This app instance's own registry (`createRegistry`); served on the metrics port, not here. */
  registry: Registry;
  /**
   * Longest wait for the store to acknowledge a batch of jobs (with Redis replicas, their `WAIT`
   * too), or to answer the readiness check, before a 503.
   * @defaultValue 2000
   */
  enqueueTimeoutMs?: number;
  /** @defaultValue the minimised event, signed (`signedJobData`) */
  jobData?: JobDataBuilder;
  /** @defaultValue `DEFAULT_LIMITS` */
  limits?: Partial<IngressLimits>;
  /** @defaultValue a client used only for signature verification (it never calls the API) */
  stripe?: Stripe;
}

/** The ingress as a Fastify instance, routes registered, not listening. */
export async function buildApp(deps: IngressDeps): Promise<FastifyInstance> {
  const { store, queue, secrets, logger, registry, enqueueTimeoutMs = 2_000 } = deps;
  if (secrets.length === 0) throw new TypeError('buildApp: at least one webhook secret is required');
  const stripe = deps.stripe ?? new Stripe('sk_unused_ingress_only_verifies_signatures', { telemetry: false });
  const limits = resolveLimits(deps.limits);

  const app = Fastify({
    // Typed as Fastify's logger so plugins see the plain FastifyInstance.
    loggerInstance: logger as FastifyBaseLogger,
    // Request lines would add noise and nothing we need; the webhook route logs one line per
    // event with its id and type (never headers or the body).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    // Node checks the request and headers timeouts only this often (30 s by default), so a
    // slow client would otherwise outlive its bound by up to that much.
    http: { headersTimeout: limits.headersTimeoutMs, connectionsCheckingInterval: 1_000 },
  });
  app.server.maxConnections = limits.maxConnections;
  watchQueueStore(store, logger);

  app.setErrorHandler(catalogueErrorHandler('request failed'));
  app.setNotFoundHandler((_request, reply) => reply.code(404).send(errorBody('not_found')));

  // close() waits for every connection to end; a keep-alive connection (a load balancer's pool)
  // would hold it open for up to keepAliveTimeout. Answers given while closing end theirs.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });

  const metrics = createIngressMetrics(registry);
  const batcher = new EnqueueBatcher({ store, queue, timeoutMs: enqueueTimeoutMs, onBatch: (size) => metrics.batchSize.observe(size) });
  await app.register(operationsRoutes, { store, timeoutMs: enqueueTimeoutMs });
  const bodyBudget = new BodyBudget(limits.largeBodyBudgetBytes);
  const jobData = deps.jobData ?? signedJobData(deps.signer);
  const snapshots: WebhookAcceptor<StripeEventJobData> = {
    verify: (body, header) => verifyWebhook(stripe, body, header, secrets),
    job: (delivery) => ({ name: delivery.event.type, jobId: jobIdFor(delivery.event), data: jobData(delivery) }),
  };
  await app.register(webhookRoute<StripeEventJobData>, { path: WEBHOOK_PATH, accept: snapshots, batcher, metrics, limits, bodyBudget });
  const thinSecrets = deps.thinSecrets ?? [];
  if (thinSecrets.length > 0) {
    const thin: WebhookAcceptor<ThinEvent> = {
      verify: (body, header) => verifyThinEvent(stripe, body, header, thinSecrets),
      job: ({ event }) =>
        event.type === THIN_PING_TYPE ? undefined : { name: event.type, jobId: jobIdFor(event), data: thinJobPayload(deps.signer, event) },
    };
    await app.register(webhookRoute<ThinEvent>, {
      path: deps.thinPath ?? THIN_WEBHOOK_PATH,
      accept: thin,
      batcher,
      metrics,
      limits,
      bodyBudget,
    });
  }
  return app;
}
