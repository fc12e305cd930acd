/**
 * The one classifier of Postgres failures, by the error's `code`: a SQLSTATE from the server, a
 * code of postgres-js (`CONNECT_TIMEOUT`, `CONNECTION_CLOSED`…) or of Node's sockets (`ECONNREFUSED`…).
 * It decides whether a failure says anything about the statement at all: the worker pauses and
 * probes instead of spending an event's attempts, a batch is not retried event by event, and the
 * migrator says it cannot reach Postgres rather than that a migration failed.
 */

/**
 * - `unreachable`: no connection, or it was lost — refused, reset, timed out, closed; the server
 *   shutting down, crashed or starting (`08…`, `57P01`–`57P03`);
 * - `refused`: the server answers but will not serve us — authentication (`28…`, postgres-js
 *   `SASL_SIGNATURE_MISMATCH`, `AUTH_TYPE_NOT_IMPLEMENTED`), no such database (`3D000`), too many
 *   connections (`53300`);
 * - `statement`: anything else — the statement or its data failed, on a working connection.
 */
export type PostgresFailure = 'unreachable' | 'refused' | 'statement';

const UNREACHABLE_STATES = new Set(['57P01', '57P02', '57P03']);
const REFUSED_STATES = new Set(['3D000', '53300']);
const POSTGRES_JS_CONNECTION = /^(CONNECT_TIMEOUT|CONNECTION_[A-Z]+)$/;
const POSTGRES_JS_AUTH = new Set(['SASL_SIGNATURE_MISMATCH', 'AUTH_TYPE_NOT_IMPLEMENTED']);
/** Node's socket and DNS errors: ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ENOTFOUND, EAI_AGAIN… */
const NODE_ERRNO = /^E[A-Z_]+$/;

export function postgresFailure(error: unknown): PostgresFailure {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'statement';
  if (code.startsWith('08') || UNREACHABLE_STATES.has(code) || POSTGRES_JS_CONNECTION.test(code)) return 'unreachable';
  if (code.startsWith('28') || REFUSED_STATES.has(code) || POSTGRES_JS_AUTH.has(code)) return 'refused';
  if (NODE_ERRNO.test(code) && !code.startsWith('ERR_')) return 'unreachable';
  return 'statement';
}

/** Postgres cannot be used now (unreachable or refusing us): every statement would fail the same way, none is at fault. */
export function isConnectionError(error: unknown): boolean {
  return postgresFailure(error) !== 'statement';
}
