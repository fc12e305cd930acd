import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import * as schema from './schema';

export type Database = PostgresJsDatabase<typeof schema>;
export type Sql = postgres.Sql;

export interface DatabaseOptions {
  /**
   * Pool size; the worker sizes it to its concurrency.
   * @defaultValue 10
   */
  max?: number;
  /** Name shown in `pg_stat_activity`. */
  applicationName?: string;
}

/** Opens a pool lazily (postgres-js connects on first query); nothing happens at import time. */
export function createDatabase(url: string, options: DatabaseOptions = {}): { db: Database; sql: Sql } {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // postgres-js waits up to 20 s (3^n/100 s) before reconnecting after repeated errors, so a
    // 4 s outage kept the worker idle for ~15 s after Postgres returned; cap the wait at 2 s.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 2) * (0.5 + Math.random() / 2),
    // Fail a connection attempt that hangs (a dead host, a half-open network) well before BullMQ's lock expires.
    connect_timeout: 10,
    connection: { application_name: options.applicationName ?? 'billing-webhooks' },
  });
  return { db: drizzle(sql, { schema }), sql };
}
