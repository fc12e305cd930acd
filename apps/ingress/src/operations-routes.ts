import { isWritablePrimary, withTimeout, type RedisConnection } from '@billing/queue';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors';

export interface OperationsRoutesOptions {
  redis: RedisConnection;
  /** Bound for the readiness check. */
  timeoutMs: number;
}

/**
 * `/healthz` (the process answers) and `/readyz` (a writable Redis primary answers within the
 * bound), on the webhook port for the load balancer. `/metrics` has a port of its own, internal
 * (`INGRESS_METRICS_PORT`).
 */
export async function operationsRoutes(scope: FastifyInstance, options: OperationsRoutesOptions): Promise<void> {
  const { redis, timeoutMs } = options;

  scope.get('/healthz', async () => ({ ok: true }));

  scope.get('/readyz', async (request, reply) => {
    try {
      // A replica or a demoted primary answers PING too, but refuses every add.
      if (await withTimeout(isWritablePrimary(redis), timeoutMs)) return { ready: true };
      request.log.warn('not ready: Redis answers but is not a writable primary (a replica, or a demoted primary)');
    } catch (error) {
      request.log.warn({ err: (error as Error).message }, 'not ready: Redis does not answer');
    }
    return reply.code(503).send(errorBody('queue_unavailable'));
  });
}
