import type { AddressInfo } from 'node:net';
import { acknowledgeReplicas, createEventQueue, describeRedis, jobSigner, producerConnection, redisConfigFromEnv } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry, serveMetrics } from '@billing/runtime/metrics';
import { onShutdown } from '@billing/runtime/shutdown';
import { buildApp } from './app';
import { loadIngressEnv } from './env';

const ENQUEUE_TIMEOUT_MS = 2_000;

const env = loadIngressEnv();
const logger = createLogger('ingress', env.LOG_LEVEL);

// 1. Connect: producer connections fail fast while Redis is away, reconnect forever and follow a
//    new primary. The adds get one of their own: with REDIS_MIN_REPLICAS_ACK, a batch's WAIT
//    holds up that connection while a replica lags, and must not hold up /readyz.
const redisConfig = redisConfigFromEnv(env);
const redis = producerConnection(redisConfig, { timeoutMs: ENQUEUE_TIMEOUT_MS });
const queueConnection = producerConnection(redisConfig, { timeoutMs: ENQUEUE_TIMEOUT_MS });
const queue = createEventQueue(
  queueConnection,
  { name: env.QUEUE_NAME, prefix: env.QUEUE_PREFIX },
  { minReplicasAck: env.REDIS_MIN_REPLICAS_ACK },
);
const registry = createRegistry('ingress');
const app = await buildApp({
  queue,
  redis,
  secrets: env.STRIPE_WEBHOOK_SECRET,
  signer: jobSigner(env.QUEUE_SIGNING_KEY),
  logger,
  registry,
  enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS,
  limits: { maxConnections: env.INGRESS_MAX_CONNECTIONS, requestTimeoutMs: env.INGRESS_REQUEST_TIMEOUT_MS },
  // REDIS_MIN_REPLICAS_ACK: one WAIT per batch, within the batch's 2 s bound (else 503 to all of it).
  ...(env.REDIS_MIN_REPLICAS_ACK > 0 && { afterBatchWrite: () => acknowledgeReplicas(queue, performance.now() + ENQUEUE_TIMEOUT_MS) }),
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
//    then close the queue and the connection. The deadline stays under the usual 30 s grace
//    period an orchestrator gives before SIGKILL.
onShutdown(
  logger,
  [
    { name: 'http', run: () => app.close() },
    { name: 'metrics server', run: () => new Promise<void>((resolve) => metricsServer.close(() => resolve())) },
    { name: 'queue', run: () => queue.close() },
    { name: 'redis', run: () => Promise.all([redis, queueConnection].map((c) => (c.status === 'ready' ? c.quit() : c.disconnect()))) },
  ],
  { deadlineMs: 20_000 },
);

// 4. Wait for Redis before accepting anything, then listen.
try {
  logger.info({ queue: env.QUEUE_NAME, redis: describeRedis(redisConfig) }, 'waiting for redis');
  await queue.waitUntilReady();
  const url = await app.listen({ port: env.PORT, host: env.HOST });
  logger.info(
    {
      url,
      metrics: metricsUrl,
      queue: env.QUEUE_NAME,
      secrets: env.STRIPE_WEBHOOK_SECRET.length,
      redis: describeRedis(redisConfig),
      minReplicasAck: env.REDIS_MIN_REPLICAS_ACK,
    },
    'ingress listening',
  );
} catch (error) {
  logger.fatal({ err: error }, 'ingress failed to start');
  process.exit(1);
}
