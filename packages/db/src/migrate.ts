import { fileURLToPath } from 'node:url';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import postgres from 'postgres';
import { isConnectionError } from './postgres-errors';

/** The committed drizzle-kit output, found from this file rather than from the working directory. */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../../drizzle', import.meta.url));

/** Arbitrary constant shared by every deploy: two migrators never run at once. */
const MIGRATION_LOCK_KEY = 0x62696c6c; // 'bill'

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export interface MigrateResult {
  database: string;
  created: boolean;
}

/**
 * Creates the database named in `url` when it does not exist, then applies `drizzle/`
 * in one transaction under a transaction-scoped Postgres advisory lock (two migrators never run at
 * once, behind a pooler too). Throws a `MigrationError` with a one-line reason.
 */
export async function migrateDatabase(url: string): Promise<MigrateResult> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.slice(1)) || 'postgres';
  const created = await createDatabaseIfMissing(target, database);

  const sql = postgres(url, { max: 1, connect_timeout: 5, prepare: false, onnotice: () => {} });
  try {
    await applyMigrations(sql).catch((error: unknown) => {
      if (isConnectionError(error)) throw new MigrationError(`cannot reach Postgres at ${where(target)}: ${reason(error)}`);
      throw new MigrationError(`migration failed on ${database}: ${reason(error)}`);
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
  return { database, created };
}

/**
 * drizzle-kit's migrations (read by Drizzle's own `readMigrationFiles`: statements and hashes),
 * applied as Drizzle's migrator does — the same `drizzle.__drizzle_migrations` table, a migration
 * runs when it is newer than the last one recorded — but all in one transaction that first takes
 * a transaction-scoped advisory lock. Drizzle's migrator reads the table before its transaction
 * and offers no place for the lock; a session lock (`pg_advisory_lock`) behind a transaction-mode
 * pooler is taken on one server connection and then held for whoever gets it next.
 */
async function applyMigrations(sql: postgres.Sql): Promise<void> {
  const migrations = readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER });
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
    await tx`create schema if not exists drizzle`;
    await tx`create table if not exists drizzle.__drizzle_migrations (id serial primary key, hash text not null, created_at bigint)`;
    const [last] = await tx<
      Array<{ created_at: string }>
    >`select created_at from drizzle.__drizzle_migrations order by created_at desc limit 1`;
    for (const migration of migrations) {
      if (last && Number(last.created_at) >= migration.folderMillis) continue;
      for (const statement of migration.sql) if (statement.trim()) await tx.unsafe(statement);
      await tx`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`;
    }
  });
}

async function createDatabaseIfMissing(target: URL, database: string): Promise<boolean> {
  const maintenance = new URL(target);
  maintenance.pathname = database === 'postgres' ? '/template1' : '/postgres';
  const sql = postgres(maintenance.toString(), { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${database}`;
    if (rows.length > 0) return false;
    await sql`create database ${sql(database)}`;
    return true;
  } catch (error) {
    // Created concurrently by another deploy: 42P04, or 23505 when both inserted at once.
    if (isPgError(error, '42P04') || isPgError(error, '23505')) return false;
    if (isConnectionError(error)) throw new MigrationError(`cannot reach Postgres at ${where(target)}: ${reason(error)}`);
    throw new MigrationError(`cannot create database ${database}: ${reason(error)}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function isPgError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function where(url: URL): string {
  return `${url.hostname}:${url.port || '5432'}`;
}

function reason(error: unknown): string {
  if (error instanceof MigrationError) return error.message;
  const { code, message } = error as { code?: string; message?: string };
  const text = message || String(error);
  return (code && !text.includes(code) ? `${code} ${text}` : text).split('\n')[0] ?? text;
}
