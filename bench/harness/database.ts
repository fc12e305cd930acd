import { randomBytes } from 'node:crypto';
import { migrateDatabase } from '@billing/db/migrate';
import { DEFAULT_QUEUE_SCHEMA, migrateQueueSchema } from '@billing/queue';
import postgres from 'postgres';
import { settings } from '../settings';

export interface BenchDatabase {
  url: string;
  name: string;
  /** A small pool for the bench's own queries (seeding, counting, reading the ledger). */
  sql: postgres.Sql;
  /** Closes the pool and drops the database (idempotent). */
  drop: () => Promise<void>;
}

const BENCH_APPLICATION = 'billing-bench';
/** The bench's own queue handles on the Postgres backend (`worker-queue.ts`): filling and counting, not the work measured. */
const BENCH_QUEUE_APPLICATION = 'billing-bench-queue';

/** A fresh database of this run's own, migrated with the project's own migrator, with BullMQ's Postgres schema for the Postgres backend's phases. */
export async function createBenchDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `bench_${randomBytes(4).toString('hex')}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const drop = async () => {
    await sql.end({ timeout: 5 }).catch(() => {});
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin`drop database if exists ${admin(name)} with (force)`;
    } finally {
      await admin.end({ timeout: 5 });
    }
  };
  // Assigned before migrating, so a failed migration still drops what it created.
  const sql = postgres(url.toString(), { max: 2, onnotice: () => {}, connection: { application_name: BENCH_APPLICATION } });
  try {
    await migrateDatabase(url.toString());
    await migrateQueueSchema(url.toString(), DEFAULT_QUEUE_SCHEMA);
    // For this database's later connections only (BullMQ's Postgres backend is PL/pgSQL functions).
    if (settings.trackFunctions) await sql`alter database ${sql(name)} set track_functions = 'pl'`;
  } catch (error) {
    await drop();
    throw error;
  }
  return { url: url.toString(), name, sql, drop };
}

/** Users the events point at through `dictia_user_id` metadata; returns their ids in order. */
export async function seedUsers(sql: postgres.Sql, count: number): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    insert into users (email)
    select 'bench-user-' || n || '@example.com' from generate_series(1, ${count}) as n
    returning id`;
  return rows.map((r) => r.id).sort((a, b) => a - b);
}

/** Back to "users only" between phases, so every phase starts from the same state (the host contract's tables too: the outbox would grow run after run). */
export async function resetBillingTables(sql: postgres.Sql): Promise<void> {
  await sql`truncate webhook_events, subscriptions, subscription_transitions, billing_outbox, billing_outbox_subjects, billing_access, customer_entitlements restart identity`;
  await sql`update users set stripe_customer_id = null, subscription_status = null`;
  await sql`vacuum analyze users`;
}

export async function ledgerCount(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from webhook_events`;
  return row?.n ?? 0;
}

/** Ledger counts by outcome, to show what the mix did (applied / ignored / stale / unresolved). */
export async function outcomes(sql: postgres.Sql): Promise<Record<string, number>> {
  const rows = await sql<
    { outcome: string; n: number }[]
  >`select outcome, count(*)::int as n from webhook_events group by outcome order by outcome`;
  return Object.fromEntries(rows.map((r) => [r.outcome, r.n]));
}

/** Polls the ledger until it holds `expected` rows; resolves with the time that was seen (ms, performance clock). */
export async function waitForLedger(
  sql: postgres.Sql,
  expected: number,
  timeoutMs: number,
  intervalMs = 50,
  onCount?: (count: number, at: number) => void,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const count = await ledgerCount(sql);
    onCount?.(count, performance.now());
    if (count >= expected) return performance.now();
    if (performance.now() > deadline) throw new Error(`ledger has ${count} of ${expected} events after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Pids of the Postgres backends serving this database (its pools are open by the time this is
 * called) but the bench's own (which polls the ledger, fills and counts queues), or only those of
 * one `application_name`. On the Postgres backend these include the queue's: its work is Postgres's.
 */
export async function backendPids(sql: postgres.Sql, applicationName?: string): Promise<number[]> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity
    where datname = current_database()
      and ${applicationName === undefined ? sql`application_name not in (${BENCH_APPLICATION}, ${BENCH_QUEUE_APPLICATION})` : sql`application_name = ${applicationName}`}`;
  return rows.map((r) => r.pid);
}

/** PL/pgSQL functions by self time since the database was made (with `BENCH_TRACK_FUNCTIONS=1`), the top `limit`. */
export async function functionTimes(
  sql: postgres.Sql,
  limit = 12,
): Promise<Array<{ fn: string; calls: number; selfMs: number; totalMs: number }>> {
  const rows = await sql<{ fn: string; calls: number; self_ms: number; total_ms: number }[]>`
    select schemaname || '.' || funcname as fn, calls::int, self_time::float8 as self_ms, total_time::float8 as total_ms
    from pg_stat_user_functions order by self_time desc limit ${limit}`;
  return rows.map((r) => ({ fn: r.fn, calls: r.calls, selfMs: Math.round(r.self_ms), totalMs: Math.round(r.total_ms) }));
}
