/**
 * The event is not valid for its type (no object id, wrong object kind…). Retrying cannot
 * help: the worker fails the job at once with this message for an operator to read.
 */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}
