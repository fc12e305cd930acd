import { sql } from 'drizzle-orm';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrubError } from '@billing/runtime/scrub-error';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { users } from '@billing/db/schema';

const EMAIL = 'jane.doe@example.com';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('scrub_error');
  await t.db.insert(users).values({ email: EMAIL });
});
afterAll(async () => {
  await t?.drop();
});

async function thrown(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the query to fail');
}

/** What a log line or BullMQ's failedReason/stacktrace could show of an error: every field, message, stack and cause. */
function everything(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return Object.getOwnPropertyNames(error)
    .map((key) => {
      const value = (error as unknown as Record<string, unknown>)[key];
      return `${key}=${value instanceof Error ? everything(value) : JSON.stringify(value)}`;
    })
    .join('\n');
}

describe('scrubError on errors from the real clients', () => {
  it('Drizzle (a unique violation): no params, no detail; the query, class, code and constraint stay', async () => {
    const error = await thrown(t.db.insert(users).values({ email: EMAIL }));
    expect(error).toBeInstanceOf(DrizzleQueryError);
    expect(error.message).toContain(`params: ${EMAIL}`);
    expect((error.cause as { detail?: string }).detail).toContain(EMAIL);

    const scrubbed = scrubError(error);
    expect(scrubbed).toBeInstanceOf(DrizzleQueryError);
    expect(scrubbed.message).toMatch(/^Failed query: insert into "users" .*values \(default, \$1, /);
    expect(scrubbed.stack).toMatch(/^Error: Failed query: insert into "users" [^\n]*\n {4}at /);
    expect(scrubbed.cause).toMatchObject({
      name: 'PostgresError',
      code: '23505',
      message: 'duplicate key value violates unique constraint "users_email_unique"',
      table_name: 'users',
      constraint_name: 'users_email_unique',
    });
    expect(everything(error)).toContain(EMAIL);
    expect(everything(scrubbed)).not.toContain(EMAIL);
  });

  it('Drizzle (a value Postgres refuses and quotes back): neither params nor the quoted value', async () => {
    const error = await thrown(t.db.execute(sql`select ${EMAIL}::int as n`));
    expect(error.cause).toMatchObject({ code: '22P02' });
    const scrubbed = scrubError(error);
    expect(scrubbed.message).toBe('Failed query: select $1::int as n');
    expect((scrubbed.cause as Error).message).toBe('invalid input syntax for type integer: "[redacted]"');
    expect(everything(scrubbed)).not.toContain(EMAIL);
  });

  it('postgres-js (inline values, as the worker sends them): no query, parameters or detail', async () => {
    const statements = `update users set email = '${EMAIL}' where email = '${EMAIL}'; insert into users (email) values ('${EMAIL}')`;
    const error = await thrown(t.sql.unsafe(statements));
    const debugFields = error as unknown as { query?: string; detail?: string };
    expect(debugFields.query).toContain(EMAIL);
    expect(debugFields.detail).toContain(EMAIL);

    const scrubbed = scrubError(error);
    expect(scrubbed.constructor.name).toBe('PostgresError');
    const message = 'duplicate key value violates unique constraint "users_email_unique"';
    expect(scrubbed).toMatchObject({ code: '23505', message, table_name: 'users' });
    expect(everything(scrubbed)).not.toContain(EMAIL);
  });
});
