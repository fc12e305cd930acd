import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema';

export type Sql = postgres.Sql;
export type Database = PostgresJsDatabase<typeof schema>;

export interface DatabaseOptions {
  /**
   * Pool size.
   * @defaultValue 10
   */
  max?: number;
  /** Name shown in `pg_stat_activity`. */
  applicationName?: string;
}

/**
 * postgres-js options shared by every client of ours.
 * - No named prepared statements unless the URL asks for them (`?prepare=true`): behind a
 *   transaction-mode pooler (PgBouncer < 1.21, Supabase, Neon) a statement prepared on one server
 *   connection is missing on the next, and postgres-js then retries a failed COMMIT inside an
 *   aborted transaction, which answers ROLLBACK without an error.
 * - Reconnect backoff capped at 2 s (postgres-js waits up to 20 s after repeated errors, which
 *   kept the worker idle for ~15 s after a 4 s outage).
 * - A connection attempt that hangs fails after 10 s, well before a BullMQ lock expires.
 */
function clientOptions(url: string, max: number, applicationName: string): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    max,
    prepare: new URL(url).searchParams.get('prepare') === 'true',
    onnotice: () => {},
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 2) * (0.5 + Math.random() / 2),
    connect_timeout: 10,
    connection: { application_name: applicationName },
  };
}

/** A Drizzle database on a pool, opened lazily (postgres-js connects on first query). */
export function createDatabase(url: string, options: DatabaseOptions = {}): { db: Database; sql: Sql } {
  const sql = postgres(url, clientOptions(url, options.max ?? 10, options.applicationName ?? 'billing-webhooks'));
  return { db: drizzle(sql, { schema }), sql };
}

/**
 * One connection of its own (`max: 1`), for transactions written as messages of several
 * statements: postgres-js allows `begin`/`commit` as plain statements only on such a client, and
 * after a lost connection it simply reconnects on the next message. (`sql.reserve()` is avoided:
 * releasing a reservation whose connection died puts the dead connection back in the pool,
 * porsager/postgres#1199.) Dates come back as `Date`s, unlike on a Drizzle pool.
 */
export function createConnection(url: string, applicationName = 'billing-webhooks'): Sql {
  return postgres(url, clientOptions(url, 1, applicationName));
}
