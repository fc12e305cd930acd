import type { Sql } from '@billing/db/client';
import { withLease } from '@billing/db/lease';
import type { Drift, SkippedDrift } from './drift';

/** A subscription repaired: what its snapshot event did. */
export interface Repaired {
  subscriptionId: string;
  eventId: string;
  /** The ledger outcome (`applied`; `unresolved` when no user could be found; `ignored` on a terminal row; `duplicate`). */
  outcome: string;
  /** The status move it made, when it made one. */
  statusChange?: { from: string | null; to: string };
}

/** A sweep's progress, as kept in `reconcile_runs`. */
export interface RunState {
  id: number;
  /** The last id of the last page finished (`starting_after`); null before the first. */
  cursor: string | null;
  pages: number;
  drifts: Drift[];
  skipped: SkippedDrift[];
  repaired: Repaired[];
  /** Whether this run took over an unfinished one (killed, or stopped by an error). */
  resumed: boolean;
  /** The events sweep's window start, as the run began it (a resumed run keeps its own). */
  since: Date | null;
}

/**
 * The unfinished run of this sweep and scope, to resume where it stopped, or a new one. A run
 * untouched for `maxAgeMs` (what it saw is stale by then), or that stopped before its first page
 * (nothing to resume: a new `since` applies), is dropped and a new one started.
 */
export async function startRun(
  sql: Sql,
  sweep: 'state' | 'events',
  scope: string,
  repair: boolean,
  options: { since?: Date; maxAgeMs?: number } = {},
): Promise<RunState> {
  // Dropped, not marked finished: a finished run is a success (the metrics read it).
  await sql.unsafe(
    `delete from reconcile_runs where sweep = $1 and scope = $2 and finished_at is null
       and (pages = 0 or updated_at < now() - $3 * interval '1 millisecond')`,
    [sweep, scope, options.maxAgeMs ?? 86_400_000],
  );
  const [existing] = await sql.unsafe<
    Array<{
      id: string;
      cursor: string | null;
      pages: number;
      drifts: Drift[];
      skipped: SkippedDrift[];
      repaired: Repaired[];
      since: number | null;
    }>
  >(
    `select id, cursor, pages, drifts, skipped, repaired, extract(epoch from since)::float8 as since
     from reconcile_runs where sweep = $1 and scope = $2 and finished_at is null`,
    [sweep, scope],
  );
  if (existing) {
    return { ...existing, id: Number(existing.id), resumed: true, since: existing.since === null ? null : new Date(existing.since * 1000) };
  }
  const [created] = await sql.unsafe<Array<{ id: string }>>(
    `insert into reconcile_runs (sweep, scope, repair, since) values ($1, $2, $3, $4::text::timestamptz) returning id`,
    [sweep, scope, repair, options.since?.toISOString() ?? null],
  );
  return {
    id: Number(created!.id),
    cursor: null,
    pages: 0,
    drifts: [],
    skipped: [],
    repaired: [],
    resumed: false,
    since: options.since ?? null,
  };
}

export interface PageDone {
  cursor: string | null;
  drifts: Drift[];
  skipped: SkippedDrift[];
  repaired: Repaired[];
  /** Subscription ids the page listed (state sweep). */
  listed?: string[];
}

/** Records a finished page in one transaction: its cursor, what it found and repaired, the ids it listed. */
export async function recordPage(sql: Sql, run: RunState, page: PageDone): Promise<void> {
  // `::text::jsonb`: a plain postgres-js client would encode a string sent as jsonb once more (a JSON string, not the array).
  await sql.begin(async (tx) => {
    await tx.unsafe(
      `update reconcile_runs set cursor = coalesce($2, cursor), pages = pages + 1, drifts = drifts || $3::text::jsonb,
         skipped = skipped || $4::text::jsonb, repaired = repaired || $5::text::jsonb, updated_at = now() where id = $1`,
      [run.id, page.cursor, JSON.stringify(page.drifts), JSON.stringify(page.skipped), JSON.stringify(page.repaired)],
    );
    if (page.listed && page.listed.length > 0) {
      await tx.unsafe(
        `insert into reconcile_run_subscriptions (run_id, stripe_subscription_id) select $1, unnest($2::text[]) on conflict do nothing`,
        [run.id, page.listed],
      );
    }
  });
  if (page.cursor !== null) run.cursor = page.cursor;
  run.pages += 1;
  run.drifts.push(...page.drifts);
  run.skipped.push(...page.skipped);
  run.repaired.push(...page.repaired);
}

/** Marks the run finished; its listed ids go (only the run needed them). */
export async function finishRun(sql: Sql, run: RunState): Promise<void> {
  await sql.unsafe(`update reconcile_runs set finished_at = now(), updated_at = now() where id = $1`, [run.id]);
  await sql.unsafe(`delete from reconcile_run_subscriptions where run_id = $1`, [run.id]);
}

/** The last state sweep of every subscription that ran to its end: when it finished, and its drift by class. */
export async function lastFullStateRun(sql: Sql): Promise<{ finishedAt: number; drifts: Drift[] } | undefined> {
  const [row] = await sql.unsafe<Array<{ finished_at: number; drifts: Drift[] }>>(
    `select extract(epoch from finished_at)::float8 as finished_at, drifts from reconcile_runs
     where sweep = 'state' and scope in ('all', 'all+repair') and finished_at is not null order by finished_at desc limit 1`,
  );
  return row && { finishedAt: row.finished_at, drifts: row.drifts };
}

/** Another run of the same sweep and scope holds it (a worker's scheduled run, another `npm run reconcile` or `backfill`). */
export class RunBusyError extends Error {
  override name = 'RunBusyError';
}

const LEASE_TTL_MS = 30_000;
const busy = (sweep: 'state' | 'events', scope: string, after: string) =>
  new RunBusyError(`another ${sweep === 'state' ? 'reconcile state sweep' : 'backfill'} of the same scope (${scope}) is running; ${after}`);

/**
 * `work` while no other run of this sweep and scope runs: two at once would take turns on one
 * `reconcile_runs` row. With `connection` (a client of one connection of its own), a session
 * advisory lock on it — a run that is killed lets go at once, with its connection. Without, a lease
 * in `worker_leases`, renewed while it runs: a killed run lets go within 30 s. Throws
 * `RunBusyError` when another holds it.
 */
export async function withRunLease<T>(
  sql: Sql,
  sweep: 'state' | 'events',
  scope: string,
  work: () => Promise<T>,
  connection?: Sql,
): Promise<T> {
  const name = `reconcile-run:${sweep}:${scope}`;
  if (connection) {
    if (connection.options.max !== 1) throw new TypeError('withRunLease: pass a client of one connection (createConnection)');
    const [got] = await connection<Array<{ locked: boolean }>>`select pg_try_advisory_lock(hashtext(${name})) as locked`;
    if (!got?.locked) throw busy(sweep, scope, 'try again once it ends');
    try {
      return await work();
    } finally {
      await connection`select pg_advisory_unlock(hashtext(${name}))`.catch(() => {});
    }
  }
  let ran = false;
  const result = await withLease(sql, name, { ttlMs: LEASE_TTL_MS }, async () => {
    ran = true;
    return work();
  });
  if (!ran) throw busy(sweep, scope, `try again once it ends (one that was killed lets go within ${LEASE_TTL_MS / 1000} s)`);
  return result as T;
}
