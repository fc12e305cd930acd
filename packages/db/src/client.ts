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
    connection: { application_name: options.applicationName ?? 'billing-webhooks' },
  });
  return { db: drizzle(sql, { schema }), sql };
}
