import type { AddressInfo } from 'node:net';
import { createDatabase } from '@billing/db/client';
import { describeQueue, queueConfigFromEnv, queueNamesFromEnv, queueStartProblem } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, serveMetrics } from '@billing/runtime/metrics';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { maskCredentials } from '@billing/runtime/env';
import { onShutdown } from '@billing/runtime/shutdown';
import { loadWorkerEnv } from './env';
import { stripeEntitlementsFetcher } from './stripe-entitlements-fetcher';
import { stripeEventFetcher } from './stripe-event-fetcher';
import { stripeSubscriptionFetcher } from './stripe-subscription-fetcher';
import { stripeThinFetcher } from './stripe-thin-fetcher';
import { startWorker } from './worker';
import { waitForDatabase } from './wait-for-database';

const env = loadWorkerEnv();
const logger = createLogger('worker', env.LOG_LEVEL);
// Two batch transactions at once (a connection each, opened by the worker), and a small pool for everything else.
const BATCHES_IN_FLIGHT = 2;
const { db, sql } = createDatabase(env.DATABASE_URL, { max: 2, applicationName: 'billing-worker' });

await waitForDatabase(db, logger);

const registry = createRegistry('worker');
const queueConfig = queueConfigFromEnv(env);
const handle = await startWorker({
  queue: queueConfig,
  queueName: queueNamesFromEnv(env).events,
  concurrency: env.WORKER_CONCURRENCY,
  lockDurationMs: env.WORKER_LOCK_DURATION_MS,
  databaseUrl: env.DATABASE_URL,
  jobSigningKeys: env.QUEUE_SIGNING_KEY,
  config: { planSlugs: env.PLAN_SLUGS, metadataPrefix: env.METADATA_PREFIX, planPrices: env.PLAN_PRICES },
  batch: { maxSize: env.WORKER_BATCH_SIZE, maxWaitMs: env.WORKER_BATCH_WAIT_MS, maxInFlight: BATCHES_IN_FLIGHT },
  sweepIntervalMs: env.WORKER_SWEEP_INTERVAL_MS,
  failedRetentionMs: env.WORKER_FAILED_RETENTION_DAYS * 86_400_000,
  fetchThinObject: env.STRIPE_SECRET_KEY
    ? stripeThinFetcher({ secretKey: env.STRIPE_SECRET_KEY, apiBase: env.STRIPE_API_BASE })
    : undefined,
  fetchEvent: env.STRIPE_SECRET_KEY ? stripeEventFetcher({ secretKey: env.STRIPE_SECRET_KEY, apiBase: env.STRIPE_API_BASE }) : undefined,
  applyOptions: env.STRIPE_SECRET_KEY
    ? {
        fetchSubscription: stripeSubscriptionFetcher({ secretKey: env.STRIPE_SECRET_KEY, apiBase: env.STRIPE_API_BASE }),
        onEnrichmentError: (error, subscription) =>
          logger.warn({ err: error, subscription }, 'could not fetch the subscription from Stripe; applying the checkout without it'),
        fetchEntitlements: stripeEntitlementsFetcher({ secretKey: env.STRIPE_SECRET_KEY, apiBase: env.STRIPE_API_BASE }),
        onEntitlementsError: (error, customer) =>
          logger.warn({ err: error, customer }, 'could not list the entitlements from Stripe; storing the summary incomplete'),
      }
    : undefined,
  accessPolicy: { pastDueGraceSeconds: env.ACCESS_PAST_DUE_GRACE_DAYS * 86_400 },
  // The scheduled reconcile state sweep: only with a key, and RECONCILE_INTERVAL not 0.
  reconcile:
    env.STRIPE_SECRET_KEY && env.RECONCILE_INTERVAL > 0
      ? {
          stripe: createStripeClient(env.STRIPE_SECRET_KEY, { apiBase: env.STRIPE_API_BASE, maxNetworkRetries: 3 }),
          intervalMs: env.RECONCILE_INTERVAL,
          repair: env.RECONCILE_REPAIR,
        }
      : undefined,
  notify:
    env.NOTIFY_URL && env.NOTIFY_SECRET
      ? { url: env.NOTIFY_URL, secret: env.NOTIFY_SECRET, maxPerSecond: env.NOTIFY_MAX_PER_SECOND }
      : undefined,
  outboxRetentionMs: env.OUTBOX_RETENTION_DAYS * 86_400_000,
  logger,
  registry,
}).catch((error: unknown) => {
  logger.fatal({ err: error }, `worker failed to start: ${queueStartProblem(error, { where: describeQueue(queueConfig) })}`);
  process.exit(1);
});

const metricsServer = await serveMetrics(registry, env.WORKER_METRICS_PORT, env.WORKER_METRICS_HOST, handle.readiness);
const { port } = metricsServer.address() as AddressInfo;

logger.info(
  {
    queue: env.QUEUE_NAME,
    backend: handle.store.backend,
    store: handle.store.where,
    concurrency: env.WORKER_CONCURRENCY,
    batch: { size: env.WORKER_BATCH_SIZE, waitMs: env.WORKER_BATCH_WAIT_MS },
    failedRetentionDays: env.WORKER_FAILED_RETENTION_DAYS,
    accessPastDueGraceDays: env.ACCESS_PAST_DUE_GRACE_DAYS,
    notifications: env.NOTIFY_URL
      ? { url: maskCredentials(env.NOTIFY_URL), maxPerSecond: env.NOTIFY_MAX_PER_SECOND }
      : 'off (no NOTIFY_URL)',
    outboxRetentionDays: env.OUTBOX_RETENTION_DAYS,
    metrics: `http://${env.WORKER_METRICS_HOST}:${port}/metrics`,
    stripeApi: Boolean(env.STRIPE_SECRET_KEY),
    thinEvents: Boolean(env.STRIPE_THIN_WEBHOOK_SECRET),
    reconcile:
      env.STRIPE_SECRET_KEY && env.RECONCILE_INTERVAL > 0
        ? { intervalHours: env.RECONCILE_INTERVAL / 3_600_000, repair: env.RECONCILE_REPAIR }
        : 'off',
  },
  'worker ready',
);

onShutdown(
  logger,
  [
    { name: 'worker (waits for active jobs)', run: () => handle.close() },
    { name: 'metrics server', run: () => new Promise((resolve) => metricsServer.close(resolve)) },
    { name: 'postgres pool', run: () => sql.end({ timeout: 5 }) },
  ],
  { deadlineMs: env.WORKER_SHUTDOWN_TIMEOUT_MS },
);
