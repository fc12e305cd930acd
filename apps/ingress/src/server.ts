import type { AddressInfo } from 'node:net';
import { jobSigner, openEventQueue, openQueueStore, queueConfigFromEnv, queueNamesFromEnv, queueStartProblem } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, serveMetrics } from '@billing/runtime/metrics';
import { onShutdown } from '@billing/runtime/shutdown';
import { buildApp } from './app';
import { loadIngressEnv } from './env';

const ENQUEUE_TIMEOUT_MS = 2_000;

const env = loadIngressEnv();
const logger = createLogger('ingress', env.LOG_LEVEL);

// 1. Connect: a producer store fails fast while the queue's store is away, reconnects by itself
//    (on Redis, following a new primary). With REDIS_MIN_REPLICAS_ACK, each batch's write also
//    waits for the replicas (one WAIT per batch, within the batch's 2 s bound, else 503 to all of it).
const store = openQueueStore(queueConfigFromEnv(env), {
  role: 'producer',
  timeoutMs: ENQUEUE_TIMEOUT_MS,
  minReplicasAck: env.REDIS_MIN_REPLICAS_ACK,
  applicationName: 'billing-ingress',
});
const queue = openEventQueue(store, queueNamesFromEnv(env).events);
const registry = createRegistry('ingress');
const app = await buildApp({
  store,
  queue,
  secrets: env.STRIPE_WEBHOOK_SECRET,
  thinSecrets: env.STRIPE_THIN_WEBHOOK_SECRET,
  thinPath: env.THIN_WEBHOOK_PATH,
  signer: jobSigner(env.QUEUE_SIGNING_KEY),
  logger,
  registry,
  enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS,
  limits: { maxConnections: env.INGRESS_MAX_CONNECTIONS, requestTimeoutMs: env.INGRESS_REQUEST_TIMEOUT_MS },
});

// 2. Metrics on their own internal address, so the public webhook port never serves them.
let metricsServer: Awaited<ReturnType<typeof serveMetrics>>;
try {
  metricsServer = await serveMetrics(registry, env.INGRESS_METRICS_PORT, env.INGRESS_METRICS_HOST);
} catch (error) {
  logger.fatal(
    { err: error },
    `ingress failed to start: cannot listen on INGRESS_METRICS_PORT ${env.INGRESS_METRICS_PORT} (INGRESS_METRICS_HOST ${env.INGRESS_METRICS_HOST})`,
  );
  process.exit(1);
}
const metricsUrl = `http://${env.INGRESS_METRICS_HOST}:${(metricsServer.address() as AddressInfo).port}/metrics`;

// 3. One shutdown path: stop intake and finish in-flight requests (their enqueues are bounded),
//    then close the queue and the store. The deadline stays under the usual 30 s grace
//    period an orchestrator gives before SIGKILL.
onShutdown(
  logger,
  [
    { name: 'http', run: () => app.close() },
    { name: 'metrics server', run: () => new Promise<void>((resolve) => metricsServer.close(() => resolve())) },
    { name: 'queue', run: () => queue.close() },
    { name: 'queue store', run: () => store.close() },
  ],
  { deadlineMs: 20_000 },
);

// 4. Wait for the queue's store before accepting anything, then listen.
logger.info({ queue: env.QUEUE_NAME, backend: store.backend, store: store.where }, 'waiting for the queue store');
try {
  await queue.waitUntilReady();
} catch (error) {
  logger.fatal({ err: error }, `ingress failed to start: ${queueStartProblem(error, store)}`);
  process.exit(1);
}
try {
  const url = await app.listen({ port: env.PORT, host: env.HOST });
  logger.info(
    {
      url,
      metrics: metricsUrl,
      queue: env.QUEUE_NAME,
      secrets: env.STRIPE_WEBHOOK_SECRET.length,
      thinEvents: env.STRIPE_THIN_WEBHOOK_SECRET ? { path: env.THIN_WEBHOOK_PATH, secrets: env.STRIPE_THIN_WEBHOOK_SECRET.length } : false,
      backend: store.backend,
      store: store.where,
      ...(store.backend === 'redis' && { minReplicasAck: env.REDIS_MIN_REPLICAS_ACK }),
    },
    'ingress listening',
  );
} catch (error) {
  logger.fatal({ err: error }, 'ingress failed to start');
  process.exit(1);
}
