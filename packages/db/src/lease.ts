import { randomBytes } from 'node:crypto';
import type { Sql } from './client';

export interface LeaseOptions {
  /** How long the lease lasts without renewal: a holder that died lets go after this. */
  ttlMs: number;
  /** Refuse the lease while the last run finished less than this long ago (work done once per interval across workers). @defaultValue 0 */
  minIntervalMs?: number;
}

/** This process's name for the leases it holds. */
export const LEASE_HOLDER = `${process.pid}-${randomBytes(4).toString('hex')}`;

/**
 * Takes the lease `name` when nobody holds it (or its holder let it expire) and, with
 * `minIntervalMs`, its last run finished long enough ago. Resolves with whether it is ours now.
 */
export async function acquireLease(sql: Sql, name: string, options: LeaseOptions, holder = LEASE_HOLDER): Promise<boolean> {
  const rows = await sql`
    insert into worker_leases (name, holder, expires_at) values (${name}, ${holder}, now() + ${options.ttlMs} * interval '1 millisecond')
    on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
      where (worker_leases.holder is null or worker_leases.expires_at <= now())
        and (worker_leases.finished_at is null or worker_leases.finished_at <= now() - ${options.minIntervalMs ?? 0} * interval '1 millisecond')
    returning name`;
  return rows.length === 1;
}

/** Extends a lease this holder still has; resolves with whether it still had it. */
export async function renewLease(sql: Sql, name: string, ttlMs: number, holder = LEASE_HOLDER): Promise<boolean> {
  const rows = await sql`
    update worker_leases set expires_at = now() + ${ttlMs} * interval '1 millisecond'
    where name = ${name} and holder = ${holder} returning name`;
  return rows.length === 1;
}

/** Lets go of a lease this holder has; `finished`: the work ran to its end (it counts for `minIntervalMs`). */
export async function releaseLease(sql: Sql, name: string, finished: boolean, holder = LEASE_HOLDER): Promise<void> {
  await sql`
    update worker_leases set holder = null, expires_at = now(), finished_at = case when ${finished} then now() else finished_at end
    where name = ${name} and holder = ${holder}`;
}

/**
 * Runs `work` under the lease `name` when it can be had (else resolves with `undefined` at once):
 * renewed every third of its life while the work runs, released when it ends — finished or failed —
 * so another worker (or this one, restarted) can take it at once.
 */
export async function withLease<T>(sql: Sql, name: string, options: LeaseOptions, work: () => Promise<T>): Promise<T | undefined> {
  if (!(await acquireLease(sql, name, options))) return undefined;
  const timer = setInterval(() => void renewLease(sql, name, options.ttlMs).catch(() => {}), Math.max(1_000, options.ttlMs / 3));
  timer.unref();
  let finished = false;
  try {
    const result = await work();
    finished = true;
    return result;
  } finally {
    clearInterval(timer);
    await releaseLease(sql, name, finished).catch(() => {});
  }
}
