import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';

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
 * under a Postgres advisory lock. Throws a `MigrationError` with a one-line reason.
 */
export async function migrateDatabase(url: string): Promise<MigrateResult> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.slice(1)) || 'postgres';
  const created = await createDatabaseIfMissing(target, database);

  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`.catch((error: unknown) => {
      throw new MigrationError(`cannot reach Postgres at ${where(target)}: ${reason(error)}`);
    });
    try {
      await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER });
    } catch (error) {
      throw new MigrationError(`migration failed on ${database}: ${reason(error)}`);
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => {});
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
  return { database, created };
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

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (!/^[0-9A-Z]{5}$/.test(code) || code.startsWith('08') || code === '28P01' || code === '28000' || code === '3D000');
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
