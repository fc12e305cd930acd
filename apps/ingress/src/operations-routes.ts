import { withTimeout, type QueueStore } from '@billing/queue';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors';

export interface OperationsRoutesOptions {
  store: QueueStore;
  /** Bound for the readiness check. */
  timeoutMs: number;
}

/**
 * `/healthz` (the process answers) and `/readyz` (the queue's store answers as writable within
 * the bound), on the webhook port for the load balancer. `/metrics` has a port of its own, internal
 * (`INGRESS_METRICS_PORT`).
 */
export async function operationsRoutes(scope: FastifyInstance, options: OperationsRoutesOptions): Promise<void> {
  const { store, timeoutMs } = options;

  scope.get('/healthz', async () => ({ ok: true }));

  scope.get('/readyz', async (request, reply) => {
    try {
      // A Redis replica or a demoted primary answers PING too, but refuses every add; so does a Postgres standby.
      if (await withTimeout(store.isWritable(), timeoutMs)) return { ready: true };
      request.log.warn({ queue: store.where }, 'not ready: the queue store answers but takes no writes (a replica or standby)');
    } catch (error) {
      request.log.warn({ queue: store.where, err: (error as Error).message }, 'not ready: the queue store does not answer');
    }
    return reply.code(503).send(errorBody('queue_unavailable'));
  });
}
