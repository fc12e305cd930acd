import { enqueueEvent, type EventQueue } from '@billing/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Stripe from 'stripe';
import { codeForStatus, ERROR_STATUS, errorBody, type ErrorCode } from './errors';
import type { IngressMetrics } from './metrics';
import { verifyWebhook } from './verify-webhook';

export const WEBHOOK_PATH = '/checkout/webhooks/stripe';
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export interface WebhookRouteOptions {
  stripe: Stripe;
  queue: EventQueue;
  secrets: readonly string[];
  metrics: IngressMetrics;
  enqueueTimeoutMs: number;
}

/** A media type Fastify accepts (`type/subtype[;params]`); anything else it would answer 415. */
const WELL_FORMED_MEDIA_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:[ \t]*;.*)?$/s;

/**
 * The webhook route in a scope of its own (deliberately not wrapped with fastify-plugin): the
 * raw-body parsers below exist only here, so no other route ever buffers bodies.
 */
export async function webhookRoute(scope: FastifyInstance, options: WebhookRouteOptions): Promise<void> {
  const { stripe, queue, secrets, metrics, enqueueTimeoutMs } = options;

  // 1. The signature covers the raw bytes whatever they claim to be, so every body reaches the
  //    verifier as a Buffer: JSON (any charset), other types, and none at all. A content type
  //    Fastify cannot even parse is dropped first, or it would answer 415 before verification.
  scope.removeAllContentTypeParsers();
  const keepRaw = (_request: FastifyRequest, body: Buffer, done: (error: null, body: Buffer) => void) => done(null, body);
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, keepRaw);
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, keepRaw);
  scope.addHook('onRequest', async (request) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !WELL_FORMED_MEDIA_TYPE.test(type)) delete request.raw.headers['content-type'];
  });

  const answerError = (reply: FastifyReply, code: ErrorCode, reason?: string) => {
    metrics.requests.inc({ outcome: code });
    return reply.code(ERROR_STATUS[code]).send(errorBody(code, reason));
  };

  scope.setErrorHandler((error: { statusCode?: number }, request, reply) => {
    const code = codeForStatus(error.statusCode);
    if (code === 'internal_error') request.log.error({ err: error }, 'webhook request failed');
    return answerError(reply, code);
  });

  scope.post(WEBHOOK_PATH, { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
    // 2. Verify against each configured secret.
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    const verified = verifyWebhook(stripe, body, request.headers['stripe-signature'], secrets);
    if (!verified.ok) {
      if (verified.error === 'invalid_signature') {
        metrics.signatureFailures.inc({ reason: verified.reason });
        request.log.warn({ reason: verified.reason }, 'webhook rejected: invalid signature');
        return answerError(reply, 'invalid_signature');
      }
      request.log.warn({ reason: verified.reason, secretIndex: verified.secretIndex }, 'webhook rejected: invalid payload');
      return answerError(reply, 'invalid_payload', verified.reason);
    }
    const { event, secretIndex } = verified;
    metrics.secretMatches.inc({ secret_index: String(secretIndex) });
    const context = { eventId: event.id, eventType: event.type, secretIndex };

    // 3. Enqueue, bounded: 200 only once Redis has acknowledged the job.
    const stopTimer = metrics.enqueueSeconds.startTimer();
    let duplicate: boolean;
    try {
      ({ duplicate } = await enqueueEvent(queue, event, enqueueTimeoutMs));
    } catch (error) {
      stopTimer({ result: 'error' });
      request.log.warn({ ...context, err: (error as Error).message }, 'webhook not enqueued: Redis unavailable');
      return answerError(reply, 'queue_unavailable');
    }
    stopTimer({ result: duplicate ? 'duplicate' : 'added' });
    metrics.requests.inc({ outcome: duplicate ? 'duplicate' : 'received' });
    request.log.info({ ...context, duplicate }, duplicate ? 'webhook duplicate' : 'webhook enqueued');
    return duplicate ? { received: true, duplicate: true } : { received: true };
  });
}
