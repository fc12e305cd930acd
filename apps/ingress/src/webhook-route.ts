import type { EnqueueOutcome, QueueJob, StripeEventJobData } from '@billing/queue';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { BodyBudget } from './body-budget';
import type { EnqueueBatcher } from './enqueue-batcher';
import { catalogueErrorHandler, ERROR_STATUS, errorBody, type ErrorCode } from './errors';
import { DEFAULT_LIMITS, type IngressLimits } from './limits';
import type { IngressMetrics } from './metrics';
import type { Verification } from './verify-webhook';

export const WEBHOOK_PATH = '/checkout/webhooks/stripe';
/** The thin events route's default path (`THIN_WEBHOOK_PATH`). */
export const THIN_WEBHOOK_PATH = '/stripe/thin-events';

/** A delivery whose signature verified, as a route's acceptor sees it. */
export interface AcceptedDelivery<E> {
  event: E;
  /** The exact bytes Stripe signed. */
  body: Buffer;
  /** The `Stripe-Signature` header that verified them. */
  signature: string;
  secretIndex: number;
}

/** What a webhook route accepts and how: the one difference between the snapshot and the thin routes. */
export interface WebhookAcceptor<E extends { id: string; type: string }> {
  /** Checks the signature (each configured secret in turn) and the shape of what was signed. */
  verify: (body: Buffer | undefined, header: string | string[] | undefined) => Verification<E>;
  /** The job of a verified delivery; `undefined`: answered 200 and not queued (an event destination's ping). */
  job: (delivery: AcceptedDelivery<E>) => QueueJob<StripeEventJobData> | undefined;
}
/** The default body limit (`IngressLimits.bodyLimitBytes`). */
export const WEBHOOK_BODY_LIMIT = DEFAULT_LIMITS.bodyLimitBytes;

export interface WebhookRouteOptions<E extends { id: string; type: string }> {
  path: string;
  accept: WebhookAcceptor<E>;
  batcher: EnqueueBatcher;
  metrics: IngressMetrics;
  limits: IngressLimits;
  bodyBudget: BodyBudget;
}

const ANSWERS: Record<EnqueueOutcome, { received: true; duplicate?: true; retried?: true }> = {
  added: { received: true },
  duplicate: { received: true, duplicate: true },
  retried: { received: true, retried: true },
};
const REQUEST_OUTCOME: Record<EnqueueOutcome, string> = { added: 'received', duplicate: 'duplicate', retried: 'retried' };
const LOG_MESSAGE: Record<EnqueueOutcome, string> = {
  added: 'webhook enqueued',
  duplicate: 'webhook duplicate',
  retried: 'webhook retried: its failed job is waiting again with fresh attempts',
};

/** A media type Fastify accepts (`type/subtype[;params]`); anything else it would answer 415. */
const WELL_FORMED_MEDIA_TYPE = /^[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+(?:[ \t]*;.*)?$/s;

/**
 * The webhook route in a scope of its own (deliberately not wrapped with fastify-plugin): the
 * raw-body parsers below exist only here, so no other route ever buffers bodies.
 */
export async function webhookRoute<E extends { id: string; type: string }>(
  scope: FastifyInstance,
  options: WebhookRouteOptions<E>,
): Promise<void> {
  const { path, accept, batcher, metrics, limits, bodyBudget } = options;
  const bodyLimit = limits.bodyLimitBytes;

  // 1. The signature covers the raw bytes whatever they claim to be, so every body reaches the
  //    verifier as a Buffer: JSON (any charset), other types, and none at all. A content type
  //    Fastify cannot even parse is dropped first, or it would answer 415 before verification.
  scope.removeAllContentTypeParsers();
  const keepRaw = (_request: FastifyRequest, body: Buffer, done: (error: null, body: Buffer) => void) => done(null, body);
  scope.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, keepRaw);
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, keepRaw);
  scope.addHook('onRequest', async (request) => {
    const type = request.headers['content-type'];
    if (type !== undefined && !WELL_FORMED_MEDIA_TYPE.test(type)) delete request.raw.headers['content-type'];
  });

  const answerError = (reply: FastifyReply, code: ErrorCode, reason?: string) => {
    metrics.requests.inc({ outcome: code });
    return reply.code(ERROR_STATUS[code]).send(errorBody(code, reason));
  };

  // 2. A large body (or one of unknown length) is read only if it fits the shared budget, so
  //    slow senders cannot make the process buffer more than that between them.
  scope.addHook('preParsing', async (request, reply, payload) => {
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    const size = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, bodyLimit) : bodyLimit;
    if (size <= limits.smallBodyBytes) return payload;
    if (!bodyBudget.tryReserve(size)) {
      request.log.warn({ declaredBytes: size, budgetBytes: bodyBudget.capacityBytes }, 'webhook refused: large-body budget in use');
      reply.header('connection', 'close'); // and the body is never read
      answerError(reply, 'overloaded');
      return payload;
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      bodyBudget.release(size);
    };
    reply.raw.once('finish', release).once('close', release);
    return payload;
  });

  scope.setErrorHandler(catalogueErrorHandler('webhook request failed', (code) => metrics.requests.inc({ outcome: code })));

  scope.post(path, { bodyLimit }, async (request, reply) => {
    // 3. Verify against each configured secret.
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    const verified = accept.verify(body, request.headers['stripe-signature']);
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

    // 4. Enqueue with the other requests of this turn, bounded: 200 only once the store has
    //    acknowledged the batch holding this job (durably: with Redis replicas, their WAIT too).
    const signature = String(request.headers['stripe-signature']); // a string: verification read it
    const job = accept.job({ event, body: body ?? Buffer.alloc(0), signature, secretIndex });
    if (job === undefined) {
      metrics.requests.inc({ outcome: 'acknowledged' });
      request.log.info(context, 'webhook acknowledged, nothing to queue');
      return { received: true };
    }
    const stopTimer = metrics.enqueueSeconds.startTimer();
    let outcome: EnqueueOutcome;
    try {
      outcome = await batcher.enqueue(job);
    } catch (error) {
      stopTimer({ result: 'error' });
      request.log.warn({ ...context, err: (error as Error).message }, 'webhook not enqueued: the queue did not acknowledge');
      return answerError(reply, 'queue_unavailable');
    }
    stopTimer({ result: outcome });
    metrics.requests.inc({ outcome: REQUEST_OUTCOME[outcome] });
    request.log.info({ ...context, outcome }, LOG_MESSAGE[outcome]);
    return ANSWERS[outcome];
  });
}
