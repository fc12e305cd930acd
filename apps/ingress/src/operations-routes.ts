import { isWritablePrimary, type RedisConnection } from '@billing/queue';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { errorBody } from './errors';

export interface OperationsRoutesOptions {
  redis: RedisConnection;
  registry: Registry;
  /** Bound for the readiness check. */
  timeoutMs: number;
}

/** `/healthz` (the process answers), `/readyz` (a writable Redis primary answers within the bound), `/metrics`. */
export async function operationsRoutes(scope: FastifyInstance, options: OperationsRoutesOptions): Promise<void> {
  const { redis, registry, timeoutMs } = options;

  scope.get('/healthz', async () => ({ ok: true }));

  scope.get('/readyz', async (request, reply) => {
    try {
      // A replica or a demoted primary answers PING too, but refuses every add.
      if (await bounded(isWritablePrimary(redis), timeoutMs)) return { ready: true };
      request.log.warn('not ready: Redis answers but is not a writable primary (a replica, or a demoted primary)');
    } catch (error) {
      request.log.warn({ err: (error as Error).message }, 'not ready: Redis does not answer');
    }
    return reply.code(503).send(errorBody('queue_unavailable'));
  });

  scope.get('/metrics', async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
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
