import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';
import { scrubError } from './scrub-error';

const EMAIL = 'jane.doe@example.com';

/** Shaped as postgres-js raises a server error: `Object.assign`ed fields, then the query's (non-enumerable unless `debug`). */
class PostgresError extends Error {
  constructor(fields: Record<string, unknown>) {
    super(String(fields.message));
    this.name = 'PostgresError';
    Object.assign(this, fields);
  }
}

function postgresError(fields: Record<string, unknown>, debug = false): PostgresError {
  const server = { severity_local: 'ERROR', severity: 'ERROR', file: 'nbtinsert.c', line: '666', routine: '_bt_check_unique' };
  const error = new PostgresError({ ...server, ...fields });
  Object.defineProperties(error, {
    query: { value: `update users set stripe_customer_id = 'cus_1' where email = '${EMAIL}'`, enumerable: debug },
    parameters: { value: [EMAIL], enumerable: debug },
    args: { value: [EMAIL], enumerable: debug },
  });
  return error;
}

const uniqueViolation = (debug = false) =>
  postgresError(
    {
      message: 'duplicate key value violates unique constraint "users_email_unique"',
      code: '23505',
      detail: `Key (email)=(${EMAIL}) already exists.`,
      schema_name: 'public',
      table_name: 'users',
      constraint_name: 'users_email_unique',
    },
    debug,
  );

/** Everything an error would show once logged or stored: its own fields, message and stack, its causes'. */
const everything = (error: unknown): string => {
  if (!(error instanceof Error)) return String(error);
  const own = Object.getOwnPropertyNames(error).map((key) => {
    const value = (error as unknown as Record<string, unknown>)[key];
    return `${key}=${value instanceof Error ? everything(value) : Array.isArray(value) ? value.map(everything).join(',') : String(value)}`;
  });
  return own.join('\n');
};

describe('scrubError', () => {
  it.each([
    ['a postgres-js server error', () => uniqueViolation()],
    ['a postgres-js server error in debug mode (query fields enumerable)', () => uniqueViolation(true)],
  ])('%s: keeps class, code, message and the failing table; drops detail, query and parameters', (_, make) => {
    const original = make();
    expect(everything(original)).toContain(EMAIL);
    const scrubbed = scrubError(original);
    expect(scrubbed).toBeInstanceOf(PostgresError);
    expect(scrubbed).toMatchObject({
      name: 'PostgresError',
      message: 'duplicate key value violates unique constraint "users_email_unique"',
      code: '23505',
      severity: 'ERROR',
      table_name: 'users',
      constraint_name: 'users_email_unique',
    });
    expect(scrubbed).not.toHaveProperty('detail');
    expect(scrubbed).not.toHaveProperty('query');
    expect(scrubbed).not.toHaveProperty('parameters');
    expect(scrubbed.stack).toMatch(/^PostgresError: duplicate key value violates unique constraint "users_email_unique"\n {4}at /);
    expect(everything(scrubbed)).not.toContain(EMAIL);
  });

  it('a Drizzle query error: "Failed query" with the SQL (its literals too) but without params; its cause scrubbed', () => {
    // What drizzle-orm's DrizzleQueryError builds (drizzle-orm/errors).
    const cause = uniqueViolation();
    const message = `Failed query: update "users" set "email" = $1 where "note" = 'for ${EMAIL}'\nparams: ${EMAIL},cus_1`;
    const original = Object.assign(new Error(message), {
      query: 'update "users" set "email" = $1',
      params: [EMAIL, 'cus_1'],
      cause,
    });
    const scrubbed = scrubError(original);
    expect(scrubbed.message).toBe(`Failed query: update "users" set "email" = $1 where "note" = '?'`);
    expect(scrubbed).not.toHaveProperty('params');
    expect(scrubbed.cause).toBeInstanceOf(PostgresError);
    expect(scrubbed.cause).toMatchObject({ code: '23505', message: cause.message });
    expect(everything(scrubbed)).not.toContain(EMAIL);
  });

  it('a Postgres data error quoting the value it refused loses the value, keeps the type it expected', () => {
    const original = postgresError({ message: `invalid input syntax for type integer: "${EMAIL}"`, code: '22P02' });
    expect(scrubError(original).message).toBe('invalid input syntax for type integer: "[redacted]"');
  });

  it.each([
    [
      'a name set in the constructor',
      new (class UnrecoverableError extends Error {
        constructor(message: string) {
          super(message);
          this.name = this.constructor.name;
        }
      })('invalid event: no id'),
    ],
    [
      'a name as a class field',
      new (class InvalidEventError extends Error {
        override name = 'InvalidEventError';
      })('customer.subscription.updated: no id'),
    ],
  ])('keeps an error class recognisable (%s): instanceof, name, message', (_, original) => {
    const scrubbed = scrubError(original);
    expect(scrubbed).toBeInstanceOf(original.constructor);
    expect(scrubbed.name).toBe(original.name);
    expect(scrubbed.message).toBe(original.message);
    expect(scrubbed.stack).toMatch(new RegExp(`^${original.name}: ${original.message}\n {4}at `));
  });

  it('keeps primitive fields of other errors (connection errors: code, address, port), drops object-valued ones', () => {
    const fields = { code: 'ECONNREFUSED', address: '127.0.0.1', port: 5432, row: { email: EMAIL } };
    const original = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), fields);
    const scrubbed = scrubError(original);
    expect(scrubbed).toMatchObject({ message: original.message, code: 'ECONNREFUSED', address: '127.0.0.1', port: 5432 });
    expect(scrubbed).not.toHaveProperty('row');
  });

  it('scrubs every error of an AggregateError, and a cause chain that loops', () => {
    const looping = new Error('outer', { cause: uniqueViolation() });
    (looping.cause as Error).cause = looping;
    const scrubbed = scrubError(new AggregateError([uniqueViolation(true), looping], 'several'));
    expect(scrubbed).toBeInstanceOf(AggregateError);
    expect(everything(scrubbed)).not.toContain(EMAIL);
    expect((scrubbed as AggregateError).errors).toHaveLength(2);
  });

  it('turns a thrown non-error into an Error', () => {
    expect(scrubError('boom').message).toBe('boom');
    expect(scrubError({ email: EMAIL }).message).toBe('a non-error value was thrown (object)');
  });

  it('is what the logger writes for `err`', () => {
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _encoding, done) => void (lines.push(String(chunk)), done()) });
    const logger = createLogger('scrub-test', 'info', destination);
    logger.warn({ err: new Error(`Failed query: select $1\nparams: ${EMAIL}`, { cause: uniqueViolation(true) }) }, 'failed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(EMAIL);
    const line = JSON.parse(lines[0]!) as { err: { message: string; stack: string } };
    // pino appends the causes' messages and stacks.
    expect(line.err.message).toBe('Failed query: select $1: duplicate key value violates unique constraint "users_email_unique"');
    expect(line.err.stack).toMatch(/caused by: PostgresError: duplicate key/);
  });
});
