import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Every error answer the ingress gives, with a stable code (the `error` field of the JSON body)
 * and its status. Stripe retries on anything but 2xx, so only 503 is meant to be retried.
 */
export const ERROR_STATUS = {
  invalid_signature: 400,
  invalid_payload: 400,
  bad_request: 400,
  not_found: 404,
  payload_too_large: 413,
  internal_error: 500,
  queue_unavailable: 503,
  /** Too many large bodies being received at once (`largeBodyBudgetBytes`). */
  overloaded: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: ErrorCode;
  /** Readable detail, only where it helps the sender and reveals nothing (invalid_payload). */
  reason?: string;
}

export function errorBody(code: ErrorCode, reason?: string): ErrorBody {
  return reason === undefined ? { error: code } : { error: code, reason };
}

/** Maps an error Fastify raised (parser, routing) onto the catalogue. */
export function codeForStatus(statusCode = 500): ErrorCode {
  if (statusCode === 413) return 'payload_too_large';
  if (statusCode === 404) return 'not_found';
  return statusCode >= 400 && statusCode < 500 ? 'bad_request' : 'internal_error';
}

/**
 * Fastify's error handler for a scope: the error answered from the catalogue, logged when it is
 * ours (a 5xx), and `counted` (the webhook route counts every answer in its metrics).
 */
export function catalogueErrorHandler(message: string, counted?: (code: ErrorCode) => void) {
  return (error: { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
    const code = codeForStatus(error.statusCode);
    if (code === 'internal_error') request.log.error({ err: error }, message);
    counted?.(code);
    return reply.code(ERROR_STATUS[code]).send(errorBody(code));
  };
}
