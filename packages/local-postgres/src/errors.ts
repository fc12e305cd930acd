/** A reason the local Postgres cannot start, in one line that says what to do. */
export class LocalPostgresError extends Error {
  override name = 'LocalPostgresError';
}
