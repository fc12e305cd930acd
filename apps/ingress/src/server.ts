import { createEventQueue, describeRedis, producerConnection, redisConfigFromEnv } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { onShutdown } from '@billing/runtime/shutdown';
import { buildApp } from './app';
import { loadIngressEnv } from './env';

const ENQUEUE_TIMEOUT_MS = 2_000;

const env = loadIngressEnv();
const logger = createLogger('ingress', env.LOG_LEVEL);

// 1. Connect: producer connections fail fast while Redis is away, reconnect forever and follow a
//    new primary. The adds get one of their own: with REDIS_MIN_REPLICAS_ACK, each add's WAIT
//    holds up that connection while a replica lags, and must not hold up /readyz or /metrics.
const redisConfig = redisConfigFromEnv(env);
const redis = producerConnection(redisConfig, { timeoutMs: ENQUEUE_TIMEOUT_MS });
const queueConnection = producerConnection(redisConfig, { timeoutMs: ENQUEUE_TIMEOUT_MS });
const queue = createEventQueue(
  queueConnection,
  { name: env.QUEUE_NAME, prefix: env.QUEUE_PREFIX },
  { minReplicasAck: env.REDIS_MIN_REPLICAS_ACK },
);
const app = await buildApp({
  queue,
  redis,
  secrets: env.STRIPE_WEBHOOK_SECRET,
  logger,
  registry: createRegistry('ingress'),
  enqueueTimeoutMs: ENQUEUE_TIMEOUT_MS,
});

// 2. One shutdown path: stop intake and finish in-flight requests (their enqueues are bounded),
//    then close the queue and the connection. The deadline stays under the usual 30 s grace
//    period an orchestrator gives before SIGKILL.
onShutdown(
  logger,
  [
    { name: 'http', run: () => app.close() },
    { name: 'queue', run: () => queue.close() },
    { name: 'redis', run: () => Promise.all([redis, queueConnection].map((c) => (c.status === 'ready' ? c.quit() : c.disconnect()))) },
  ],
  { deadlineMs: 20_000 },
);

// 3. Wait for Redis before accepting anything, then listen.
try {
  logger.info({ queue: env.QUEUE_NAME, redis: describeRedis(redisConfig) }, 'waiting for redis');
  await queue.waitUntilReady();
  const url = await app.listen({ port: env.PORT, host: env.HOST });
  logger.info(
    { url, queue: env.QUEUE_NAME, secrets: env.STRIPE_WEBHOOK_SECRET.length, redis: describeRedis(redisConfig), minReplicasAck: env.REDIS_MIN_REPLICAS_ACK },
    'ingress listening',
  );
} catch (error) {
  logger.fatal({ err: error }, 'ingress failed to start');
  process.exit(1);
}
