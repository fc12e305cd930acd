/**
 * Fields that carry a query's values (or a row's), never kept: postgres-js attaches `query`,
 * `parameters`, `args` and `types` to the errors of a query (enumerable in debug mode), Drizzle's
 * `DrizzleQueryError` `query` and `params`; a Postgres error's `detail` quotes the key or the
 * failing row ("Key (email)=(a@b.com) already exists"), its `where`, `internal_query` and `hint`
 * may quote a function's arguments or a statement.
 */
const VALUE_FIELDS = new Set(['query', 'parameters', 'params', 'args', 'types', 'detail', 'hint', 'where', 'internal_query']);

/** Drizzle's message: `Failed query: <sql>\nparams: <values>`. */
const DRIZZLE_MESSAGE = /^Failed query: ([\s\S]*?)\nparams: [\s\S]*$/;

/** A cause chain longer than this is cut (a cycle, or something no operator reads). */
const MAX_DEPTH = 8;

/**
 * An error safe to log and to store (BullMQ's `failedReason` and stacktrace): the same class
 * (`instanceof`, `name` and `code` still tell the worker and an operator what failed — a Postgres
 * outage, a constraint, an `UnrecoverableError`), but no query values. The message loses Drizzle's
 * `params:` part and the SQL's string literals; a Postgres data error (class 22) loses the values
 * it quotes; fields carrying values (`VALUE_FIELDS`) and object-valued fields are dropped; the
 * cause chain (and an `AggregateError`'s errors) is scrubbed the same way; the stack is rebuilt
 * from the scrubbed message and the original frames. A value thrown that is not an `Error` becomes one.
 */
export function scrubError(error: unknown): Error {
  return scrub(error, 0);
}

function scrub(error: unknown, depth: number): Error {
  if (!(error instanceof Error)) return new Error(isPrimitive(error) ? String(error) : `a non-error value was thrown (${typeof error})`);
  const scrubbed = Object.create(Object.getPrototypeOf(error) as object) as Error & Record<string, unknown>;
  for (const [key, value] of Object.entries(error)) {
    if (key === 'message' || key === 'stack' || key === 'cause' || key === 'errors' || VALUE_FIELDS.has(key)) continue;
    if (isPrimitive(value)) scrubbed[key] = value;
  }
  if (Object.hasOwn(error, 'name') && !Object.hasOwn(scrubbed, 'name')) hidden(scrubbed, 'name', error.name);
  const message = scrubMessage(error);
  hidden(scrubbed, 'message', message);
  hidden(scrubbed, 'stack', [`${error.name}: ${message}`, ...frames(error.stack)].join('\n'));
  const { cause } = error;
  if (cause instanceof Error && depth < MAX_DEPTH) hidden(scrubbed, 'cause', scrub(cause, depth + 1));
  else if (isPrimitive(cause)) hidden(scrubbed, 'cause', cause);
  if (error instanceof AggregateError && Array.isArray(error.errors)) {
    hidden(scrubbed, 'errors', depth < MAX_DEPTH ? error.errors.map((e: unknown) => scrub(e, depth + 1)) : []);
  }
  return scrubbed;
}

function scrubMessage(error: Error): string {
  const drizzle = DRIZZLE_MESSAGE.exec(error.message);
  if (drizzle) return `Failed query: ${withoutLiterals(drizzle[1]!)}`;
  // `invalid input syntax for type integer: "a@b.com"`, `value "…" is out of range for type integer`.
  if (isPostgresError(error) && error.code.startsWith('22')) return error.message.replace(/"(?:[^"]|"")*"/g, '"[redacted]"');
  return error.message;
}

/** A Postgres server error as postgres-js raises it: a SQLSTATE `code` and a `severity`. */
function isPostgresError(error: Error): error is Error & { code: string } {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && typeof severity === 'string';
}

/** SQL with its string literals (`'…'`, quotes doubled inside) replaced by `'?'`. */
function withoutLiterals(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'/g, "'?'");
}

/** The `    at …` lines of a stack (code locations, no values). */
function frames(stack: string | undefined): string[] {
  return (stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
}

function hidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true, enumerable: false });
}

function isPrimitive(value: unknown): value is string | number | boolean | bigint {
  return ['string', 'number', 'boolean', 'bigint'].includes(typeof value);
}
