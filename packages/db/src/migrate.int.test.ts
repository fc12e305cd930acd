import { readdirSync } from 'node:fs';
import postgres from 'postgres';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { databaseUrl, dropDatabase } from '@billing/testing/database';
import { migrateDatabase, MIGRATIONS_FOLDER, MigrationError } from './migrate';

const admin = inject('adminDatabaseUrl');
const name = `bw_migrate_${process.pid}_${Date.now()}`;
const url = databaseUrl(admin, name);

afterAll(async () => {
  await dropDatabase(admin, name);
});

async function tables(): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ tablename: string }[]>`select tablename from pg_tables where schemaname = 'public' order by 1`;
    return rows.map((r) => r.tablename);
  } finally {
    await sql.end();
  }
}

describe('migrateDatabase', () => {
  it('creates a database that does not exist, with its tables', async () => {
    expect(await migrateDatabase(url)).toEqual({ database: name, created: true });
    expect(await tables()).toEqual([
      'billing_access',
      'billing_outbox',
      'billing_outbox_subjects',
      'customer_entitlements',
      'erased_customers',
      'reconcile_run_subscriptions',
      'reconcile_runs',
      'subscription_transitions',
      'subscriptions',
      'users',
      'webhook_events',
      'worker_leases',
    ]);
  });

  it('is a no-op the second time', async () => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const before = await sql`select hash, created_at from drizzle.__drizzle_migrations order by id`;
    expect(await migrateDatabase(url)).toEqual({ database: name, created: false });
    const after = await sql`select hash, created_at from drizzle.__drizzle_migrations order by id`;
    await sql.end();
    expect(after).toEqual(before);
    expect(after.length).toBeGreaterThan(0);
  });

  it('two migrators at once both succeed (advisory lock) and apply each migration once', async () => {
    const otherName = `${name}_b`;
    const otherUrl = databaseUrl(admin, otherName);
    try {
      const results = await Promise.all([migrateDatabase(otherUrl), migrateDatabase(otherUrl)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const sql = postgres(otherUrl, { max: 1, onnotice: () => {} });
      const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
      await sql.end();
      expect(applied[0]?.n).toBe(readdirSync(MIGRATIONS_FOLDER).filter((f) => f.endsWith('.sql')).length);
    } finally {
      await dropDatabase(admin, otherName);
    }
  });

  it('fails fast with a one-line reason when Postgres cannot be reached', async () => {
    const started = Date.now();
    const error = await migrateDatabase('postgres://postgres@127.0.0.1:1/nowhere').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/^cannot reach Postgres at 127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect((error as Error).message).not.toContain('\n');
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
