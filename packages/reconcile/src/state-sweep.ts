import type { ApplyOptions, BillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import type { EventQueue } from '@billing/queue';
import type Stripe from 'stripe';
import { compareSubscriptions, compareUsers, type RemoteStatus } from './compare';
import { DRIFT_CLASSES, remoteSubscription, type Drift, type DriftClass, type RemoteSubscription } from './drift';
import { NO_PENDING_WORK, readPendingWork, type PendingWork } from './pending-work';
import { withRateLimitBackoff, type BackoffOptions } from './rate-limit';
import { repairSubscriptions } from './repair';
import { finishRun, recordPage, startRun, withRunLease, type Repaired, type RunState } from './run-store';
import { storedSubscriptions, storedUsers, unlistedSubscriptionIds } from './stored-rows';

type Json = Record<string, unknown>;

export interface StateSweepDeps {
  stripe: Stripe;
  /** A pool: reads and the run's progress. */
  sql: Sql;
  /** One connection of its own (`createConnection`), for `applyEvents`: needed with `repair`. */
  connection?: Sql;
  /** The events queue: differences its pending events explain are skipped. Without it nothing is. */
  queue?: Pick<EventQueue, 'getJobs'>;
  config: BillingConfig;
  /** The worker's apply options (access policy) for repairs. */
  applyOptions?: ApplyOptions;
  backoff?: BackoffOptions;
  /** Unix seconds, read before each request: the time of a fetched snapshot. @defaultValue the clock's */
  now?: () => number;
  /** @defaultValue 100 (Stripe's largest page) */
  pageSize?: number;
  /** Called after each page is recorded (tests stop a run here). */
  afterPage?: (pages: number) => void | Promise<void>;
}

export interface StateSweepOptions {
  /** Only this customer's subscriptions (listed with `customer=`), and their users. */
  customer?: string;
  /** Apply each drifting subscription, fetched, as a snapshot through the lifecycle rules. */
  repair: boolean;
}

export interface StateSweepReport {
  runId: number;
  /** Whether the run took over one that had stopped (killed), after its last recorded page. */
  resumed: boolean;
  pages: number;
  drifts: Drift[];
  skipped: Array<Drift & { reason: string }>;
  repaired: Repaired[];
  /** Drift found by class (every class, 0 included). */
  byClass: Record<DriftClass, number>;
}

const scopeOf = (options: StateSweepOptions) =>
  `${options.customer ? `customer:${options.customer}` : 'all'}${options.repair ? '+repair' : ''}`;

const isMissing = (error: unknown) => (error as { statusCode?: number } | null)?.statusCode === 404;

/**
 * The state sweep: Stripe's subscriptions (`status=all`, newest first, paged with `starting_after`;
 * one customer's with `customer`) compared with our rows field by field, page by page; then our
 * rows in scope that no page listed, retrieved one by one (404: `missing_remote`); then each user's
 * derived status. Each page's cursor, findings and repairs are kept in `reconcile_runs` as it
 * finishes, so a run that was killed resumes after its last page. With `repair`, each drifting
 * subscription is applied as a snapshot dated before its request was sent, through `applyEvents`.
 * One run per scope at a time (an advisory lock on `connection`, else a lease): another throws `RunBusyError`.
 */
export async function stateSweep(deps: StateSweepDeps, options: StateSweepOptions): Promise<StateSweepReport> {
  if (options.repair && !deps.connection) throw new TypeError('stateSweep: repair needs a connection of its own');
  return withRunLease(deps.sql, 'state', scopeOf(options), () => sweepUnderLease(deps, options), deps.connection);
}

async function sweepUnderLease(deps: StateSweepDeps, options: StateSweepOptions): Promise<StateSweepReport> {
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  const limit = deps.pageSize ?? 100;
  const call = <T>(request: () => Promise<T>) => withRateLimitBackoff(request, deps.backoff);
  const run = await startRun(deps.sql, 'state', scopeOf(options), options.repair);
  const pending = deps.queue ? await readPendingWork(deps.queue) : NO_PENDING_WORK;

  // 1. Stripe's list, from where a stopped run left it.
  for (let cursor = run.cursor; ;) {
    const fetchedAt = now();
    const page = await call(() =>
      deps.stripe.subscriptions.list({
        status: 'all',
        limit,
        ...(options.customer && { customer: options.customer }),
        ...(cursor !== null && { starting_after: cursor }),
      }),
    );
    const objects = page.data as unknown as Json[];
    const remote = new Map(objects.map((o) => [String(o.id), { object: o, fetchedAt }]));
    await comparePage(deps, run, pending, remote, options.repair, objects.at(-1)?.id as string | undefined);
    if (!page.has_more || objects.length === 0) break;
    cursor = String(objects.at(-1)!.id);
  }

  // 2. Our rows no page listed: created since, or unknown to Stripe.
  for (let after = ''; ;) {
    const ids = await unlistedSubscriptionIds(deps.sql, run.id, options.customer, after, limit);
    if (ids.length === 0) break;
    const remote = new Map<string, { object: Json; fetchedAt: number } | null>();
    for (const id of ids) {
      const fetchedAt = now();
      try {
        remote.set(id, { object: (await call(() => deps.stripe.subscriptions.retrieve(id))) as unknown as Json, fetchedAt });
      } catch (error) {
        if (!isMissing(error)) throw error;
        remote.set(id, null);
      }
    }
    await comparePage(deps, run, pending, remote, options.repair, undefined);
    after = ids.at(-1)!;
  }

  // 3. Each user's status, from the rows as they are now and Stripe's statuses of the rows not repaired.
  await compareUserStatuses(deps, run, pending, options, now);

  await finishRun(deps.sql, run);
  const byClass = Object.fromEntries(DRIFT_CLASSES.map((c) => [c, 0])) as Record<DriftClass, number>;
  for (const d of run.drifts) byClass[d.class] += 1;
  return {
    runId: run.id,
    resumed: run.resumed,
    pages: run.pages,
    drifts: run.drifts,
    skipped: run.skipped,
    repaired: run.repaired,
    byClass,
  };
}

/** One page: compared, the drifting repaired (with `repair`), recorded with its cursor. */
async function comparePage(
  deps: StateSweepDeps,
  run: RunState,
  pending: PendingWork,
  fetched: ReadonlyMap<string, { object: Json; fetchedAt: number } | null>,
  repair: boolean,
  cursor: string | undefined,
): Promise<void> {
  const ids = [...fetched.keys()];
  const stored = await storedSubscriptions(deps.sql, ids);
  const remote = new Map<string, RemoteSubscription | null>(
    [...fetched].map(([id, f]) => [id, f && remoteSubscription(f.object, deps.config)]),
  );
  const { drifts, skipped } = compareSubscriptions(stored, remote, pending);
  const repaired = repair
    ? await repairSubscriptions(
        deps.connection!,
        [...new Set(drifts.map((d) => d.subscriptionId))].flatMap((id) => {
          const f = fetched.get(id);
          return f ? [f] : [];
        }),
        deps.config,
        deps.applyOptions,
      )
    : [];
  await recordPage(deps.sql, run, { cursor: cursor ?? null, drifts, skipped, repaired, listed: ids });
  await deps.afterPage?.(run.pages);
}

async function compareUserStatuses(
  deps: StateSweepDeps,
  run: RunState,
  pending: PendingWork,
  options: StateSweepOptions,
  now: () => number,
): Promise<void> {
  const { users, rows } = await storedUsers(deps.sql, options.customer);
  // What Stripe said of the subscriptions whose rows still differ (not repaired, or not taken by the rules).
  const repairedIds = new Set(run.repaired.filter((r) => r.outcome === 'applied').map((r) => r.subscriptionId));
  const remote = new Map<string, RemoteStatus | null>();
  for (const d of run.drifts) {
    if (repairedIds.has(d.subscriptionId)) continue;
    if (d.class === 'status' || d.class === 'missing_local') {
      remote.set(d.subscriptionId, { subscriptionId: d.subscriptionId, customerId: d.customerId, status: d.stripe! });
    }
  }
  const { drifts, skipped } = compareUsers(users, rows, remote, pending);
  let repaired: Repaired[] = [];
  if (options.repair && drifts.length > 0) {
    const fetched: Array<{ object: Json; fetchedAt: number }> = [];
    for (const id of new Set(drifts.map((d) => d.subscriptionId))) {
      const fetchedAt = now();
      try {
        fetched.push({
          object: (await withRateLimitBackoff(() => deps.stripe.subscriptions.retrieve(id), deps.backoff)) as unknown as Json,
          fetchedAt,
        });
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    }
    repaired = await repairSubscriptions(deps.connection!, fetched, deps.config, deps.applyOptions);
  }
  await recordPage(deps.sql, run, { cursor: null, drifts, skipped, repaired });
}
