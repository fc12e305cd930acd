import type { FastifyInstance } from 'fastify';

/**
 * One log line per operator request that may change something, done or refused: who (the
 * basic-auth user, and the client address), what (the action, or the method and route pattern
 * when it is none), on which queue and job (or the status a `…-all` action names), and the
 * answer's status. Retry-all adds how many jobs it retried. Reads are not logged: the UI
 * polls every few seconds.
 */
export function registerAuditLog(app: FastifyInstance): void {
  app.addHook('onSend', async (request, _reply, payload) => {
    if (request.operatorRequest?.action === 'retry-all' && typeof payload === 'string') {
      try {
        const { retried, skipped } = JSON.parse(payload) as { retried?: unknown; skipped?: unknown };
        if (typeof retried === 'number') request.operatorRequest.counts = { retried, skipped: Number(skipped ?? 0) };
      } catch {
        // not the counts: the line goes without them
      }
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const described = request.operatorRequest;
    if (request.operator === undefined || described === undefined) return;
    const result = reply.statusCode;
    const outcome = described.refusal ? 'refused' : result < 400 ? 'done' : 'failed';
    const line = {
      audit: true,
      user: request.operator,
      client: request.ip,
      action: described.action ?? `${request.method} ${request.routeOptions.url ?? request.url.slice(0, 200)}`,
      ...described.target,
      result,
      outcome,
      ...(described.refusal ? { reason: described.refusal.reason } : {}),
      ...(described.counts ?? {}),
    };
    if (outcome === 'done') request.log.info(line, 'dashboard operator action');
    else request.log.warn(line, `dashboard operator action ${outcome}`);
  });
}
