/**
 * The worker of the outbox-cost phase, as a child process run by `phases/outbox-cost.ts`: the
 * real worker (`@billing/worker/worker`'s `startWorker`, configured from the worker's own env
 * schema as `apps/worker/src/server.ts` does, without the Stripe API), with the bench-only
 * `ApplyOptions.writeOutbox` from `BENCH_WRITE_OUTBOX` (`false`: the baseline, no outbox rows).
 * Both sides of the comparison run this same script, so only that flag differs.
 */
import type { AddressInfo } from 'node:net';
import { queueConfigFromEnv, queueNamesFromEnv } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, serveMetrics } from '@billing/runtime/metrics';
import { loadWorkerEnv } from '@billing/worker/env';
import { startWorker } from '@billing/worker/worker';

const env = loadWorkerEnv();
const writeOutbox = process.env.BENCH_WRITE_OUTBOX !== 'false';
const logger = createLogger('worker', env.LOG_LEVEL);
const registry = createRegistry('worker');
const handle = await startWorker({
  queue: queueConfigFromEnv(env),
  queueName: queueNamesFromEnv(env).events,
  concurrency: env.WORKER_CONCURRENCY,
  lockDurationMs: env.WORKER_LOCK_DURATION_MS,
  databaseUrl: env.DATABASE_URL,
  jobSigningKeys: env.QUEUE_SIGNING_KEY,
  config: { planSlugs: env.PLAN_SLUGS, metadataPrefix: env.METADATA_PREFIX, planPrices: env.PLAN_PRICES },
  batch: { maxSize: env.WORKER_BATCH_SIZE, maxWaitMs: env.WORKER_BATCH_WAIT_MS, maxInFlight: 2 },
  sweepIntervalMs: env.WORKER_SWEEP_INTERVAL_MS,
  applyOptions: { writeOutbox },
  accessPolicy: { pastDueGraceSeconds: env.ACCESS_PAST_DUE_GRACE_DAYS * 86_400 },
  logger,
  registry,
});
const metricsServer = await serveMetrics(registry, env.WORKER_METRICS_PORT, env.WORKER_METRICS_HOST, handle.readiness);
const { port } = metricsServer.address() as AddressInfo;
logger.info({ writeOutbox, metrics: `http://${env.WORKER_METRICS_HOST}:${port}/metrics` }, 'worker ready');
process.once('SIGTERM', () => {
  void handle
    .close()
    .then(() => new Promise((resolve) => metricsServer.close(resolve)))
    .finally(() => process.exit(0));
});
