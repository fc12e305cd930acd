import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getTableName } from 'drizzle-orm';
import { subscriptions, subscriptionTransitions, users, webhookEvents } from '@billing/db/schema';
import { trackChild } from '../harness/child-process';
import { backendPids, resetBillingTables, type BenchDatabase } from '../harness/database';
import { cpuMs } from '../harness/process-cpu';
import { round } from '../report/round';
import { settings } from '../settings';

export interface PgbenchRun {
  /** pgbench's `-M`: `prepared` (named statements, what a direct connection allows) or `simple` (what a transaction-mode pooler allows). */
  protocol: Protocol;
  clients: number;
  seconds: number;
  transactions: number;
  failed: number;
  /** pgbench's tps, without the initial connection time. */
  transactionsPerSec: number;
  latencyMs: number;
  /**
   * CPU of the bench database's backends per transaction (ms), sampled from /proc every 50 ms
   * while pgbench runs: approximate (the last ≤ 50 ms before each backend exits are missed).
   */
  postgresCpuMsPerTransaction: number;
}

/** The runs, the script they ran, and the server's `max_connections` (what bounds the client count). */
export type Protocol = 'prepared' | 'simple';

export type PgbenchResult =
  | { skipped: string }
  | {
      runs: PgbenchRun[];
      /** The same transaction in the simple query protocol at the first client count: the pooler-safe mode's cost at the database. */
      simple: PgbenchRun;
      script: string;
      maxConnections: number;
    };

/** The docs/design.md per-event transaction as a pgbench script, named from the Drizzle schema. */
export function perEventScript(): string {
  const [W, U, S, T] = [webhookEvents, users, subscriptions, subscriptionTransitions].map(getTableName);
  const w = webhookEvents;
  const s = subscriptions;
  const t = subscriptionTransitions;
  const event = `'evt_pgbench_' || :client_id::text || '_' || :e::text`;
  const sub = `'sub_pgbench_' || :s::text`;
  return [
    '\\set s random(1, :subscriptions)',
    '\\set e random(1, 1000000000000000)',
    'BEGIN;',
    `INSERT INTO ${W} (${w.stripeEventId.name}, ${w.eventType.name}, ${w.stripeSubscriptionId.name}, ${w.stripeCustomerId.name}, ${w.outcome.name}, ${w.eventCreatedAt.name})`,
    `  VALUES (${event}, 'customer.subscription.updated', ${sub}, 'cus_pgbench_' || :s::text, 'applied', now())`,
    `  ON CONFLICT (${w.stripeEventId.name}) DO NOTHING RETURNING ${w.id.name};`,
    `SELECT ${users.id.name} AS user_id, ${users.subscriptionStatus.name} FROM ${U} WHERE ${users.stripeCustomerId.name} = 'cus_pgbench_' || :s::text \\gset`,
    `SELECT * FROM ${S} WHERE ${s.stripeSubscriptionId.name} = ${sub} FOR UPDATE;`,
    `UPDATE ${S} SET ${s.status.name} = 'active', ${s.currentPeriodEnd.name} = now() + interval '30 days', ${s.lastEventAt.name} = now(), ${s.statusAt.name} = now(),`,
    `  ${s.snapshotAt.name} = now(), ${s.snapshotStatus.name} = 'active', ${s.updatedAt.name} = now() WHERE ${s.stripeSubscriptionId.name} = ${sub};`,
    `UPDATE ${U} SET ${users.subscriptionStatus.name} = 'active' WHERE ${users.id.name} = :user_id;`,
    `INSERT INTO ${T} (${t.stripeSubscriptionId.name}, ${t.fromStatus.name}, ${t.toStatus.name}, ${t.stripeEventId.name}, ${t.eventCreatedAt.name})`,
    `  VALUES (${sub}, 'past_due', 'active', ${event}, now());`,
    'END;',
    '',
  ].join('\n');
}

/** One subscription per user, every user bound to its customer: what the script's transaction finds. */
async function seed(database: BenchDatabase): Promise<number> {
  const { sql } = database;
  await resetBillingTables(sql);
  await sql`
    with numbered as (select id, row_number() over (order by id) as n from users)
    update users set stripe_customer_id = 'cus_pgbench_' || numbered.n from numbered where users.id = numbered.id`;
  const rows = await sql`
    insert into subscriptions (user_id, stripe_customer_id, stripe_subscription_id, plan_slug, period, status)
    select id, stripe_customer_id, replace(stripe_customer_id, 'cus_', 'sub_'), 'pro', 'monthly', 'past_due' from users
    returning id`;
  await sql`vacuum analyze users, subscriptions`;
  return rows.length;
}

/** Why pgbench cannot run here, or undefined when it can. */
function missing(): string | undefined {
  const probe = spawnSync(settings.pgbench.binary, ['--version'], { encoding: 'utf8' });
  if (probe.error)
    return `${settings.pgbench.binary} not found (${(probe.error as NodeJS.ErrnoException).code ?? probe.error.message}): install PostgreSQL's client tools for this baseline`;
  return probe.status === 0 ? undefined : `${settings.pgbench.binary} --version exited ${probe.status}`;
}

/**
 * Issue item 1: the database's rate for docs/design.md's per-event transaction, one transaction per
 * event, prepared statements, at each client count of `settings.pgbench.clients`. Leaves the
 * billing tables reset.
 */
export async function benchPgbench(database: BenchDatabase, log: (line: string) => void): Promise<PgbenchResult> {
  const why = missing();
  if (why) return { skipped: why };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-pgbench-'));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir); // also on Ctrl-C, which exits from its handler
  try {
    const script = perEventScript();
    const file = path.join(dir, 'per-event.sql');
    await writeFile(file, script);
    const runs: PgbenchRun[] = [];
    for (const clients of settings.pgbench.clients) {
      const subscriptionCount = await seed(database);
      log(`  pgbench -M prepared, ${clients} clients, ${settings.pgbench.seconds} s`);
      runs.push(await runPgbench(database, file, 'prepared', clients, subscriptionCount));
    }
    const clients = settings.pgbench.clients[0] ?? 10;
    log(`  pgbench -M simple, ${clients} clients, ${settings.pgbench.seconds} s`);
    const simple = await runPgbench(database, file, 'simple', clients, await seed(database));
    const [row] = await database.sql<{ n: number }[]>`select current_setting('max_connections')::int as n`;
    return { runs, simple, script, maxConnections: row?.n ?? NaN };
  } finally {
    removeDir();
    process.removeListener('exit', removeDir);
    await resetBillingTables(database.sql);
  }
}

async function runPgbench(
  database: BenchDatabase,
  file: string,
  protocol: Protocol,
  clients: number,
  subscriptionCount: number,
): Promise<PgbenchRun> {
  const { seconds, binary } = settings.pgbench;
  const args = [
    '-n',
    '-M',
    protocol,
    '-c',
    String(clients),
    '-j',
    String(Math.min(clients, 2)),
    '-T',
    String(seconds),
    '-D',
    `subscriptions=${subscriptionCount}`,
    '-f',
    file,
    database.url,
  ];
  const child = spawn(binary, args, { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-16_384)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  // Backends come and go with pgbench; keep each one's first and last CPU reading.
  const seen = new Map<number, { first: number; last: number }>();
  const sample = async () => {
    for (const pid of await backendPids(database.sql, 'pgbench').catch(() => [])) {
      const now = cpuMs(pid);
      if (now === undefined) continue;
      const entry = seen.get(pid);
      if (entry) entry.last = now;
      else seen.set(pid, { first: now, last: now });
    }
  };
  let running = true;
  const sampler = (async () => {
    while (running) {
      await sample();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const code = await exited;
  running = false;
  await sampler;
  if (code !== 0) throw new Error(`pgbench exited ${code}:\n${output}`);

  const number = (pattern: RegExp) => Number(pattern.exec(output)?.[1] ?? NaN);
  const transactions = number(/number of transactions actually processed: (\d+)/);
  const postgresCpu = [...seen.values()].reduce((sum, e) => sum + e.last - e.first, 0);
  return {
    protocol,
    clients,
    seconds,
    transactions,
    failed: number(/number of failed transactions: (\d+)/) || 0,
    transactionsPerSec: round(number(/tps = ([\d.]+)/)),
    latencyMs: round(number(/latency average = ([\d.]+) ms/), 2),
    postgresCpuMsPerTransaction: round(postgresCpu / Math.max(1, transactions), 3),
  };
}
