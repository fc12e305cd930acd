import { randomBytes } from 'node:crypto';
import { createConnection, createDatabase, type Database, type Sql } from '@billing/db/client';
import { migrateDatabase } from '@billing/db/migrate';
import postgres from 'postgres';
import { inject } from 'vitest';
import type {} from './provided-context';

export interface TestDatabase {
  url: string;
  name: string;
  db: Database;
  sql: Sql;
  /** A client of one connection of its own (what `applyEvents` takes), closed by `drop()`. */
  connection: () => Sql;
  /** Closes the pool and the connections, and drops the database. */
  drop: () => Promise<void>;
}

/** A fresh, migrated database of this test file's own; call `drop()` in `afterAll`. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const admin = inject('adminDatabaseUrl');
  const name = `bw_${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString('hex')}`;
  const url = databaseUrl(admin, name);
  await migrateDatabase(url);
  const { db, sql } = createDatabase(url, { max: 10, applicationName: 'billing-webhooks-test' });
  const connections: Sql[] = [];
  return {
    url,
    name,
    db,
    sql,
    connection: () => {
      const connection = createConnection(url, 'billing-webhooks-test');
      connections.push(connection);
      return connection;
    },
    drop: async () => {
      await Promise.all([sql, ...connections].map((client) => client.end({ timeout: 5 })));
      await dropDatabase(admin, name);
    },
  };
}

export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`drop database if exists ${sql(name)} with (force)`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}
