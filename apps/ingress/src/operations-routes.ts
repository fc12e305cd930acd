import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { errorBody } from './errors';

export interface OperationsRoutesOptions {
  redis: Redis;
  /** Bound for the readiness PING. */
  timeoutMs: number;
}

/**
 * `/healthz` (the process answers) and `/readyz` (Redis answers within the bound), on the webhook
 * port for the load balancer. `/metrics` has a port of its own, internal (`INGRESS_METRICS_PORT`).
 */
export async function operationsRoutes(scope: FastifyInstance, options: OperationsRoutesOptions): Promise<void> {
  const { redis, timeoutMs } = options;

  scope.get('/healthz', async () => ({ ok: true }));

  scope.get('/readyz', async (request, reply) => {
    try {
      await bounded(redis.ping(), timeoutMs);
      return { ready: true };
    } catch (error) {
      request.log.warn({ err: (error as Error).message }, 'not ready: Redis does not answer');
      return reply.code(503).send(errorBody('queue_unavailable'));
    }
  });
}

async function bounded<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
