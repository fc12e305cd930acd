import { randomBytes } from 'node:crypto';
import type { Sql } from '@billing/db/client';
import { isConnectionError } from '@billing/db/postgres-errors';
import type { StripeEvent } from '@billing/queue';
import { DEFAULT_ACCESS_POLICY, type AccessPolicy } from './access-policy';
import type { BillingConfig } from './config';
import { InvalidEventError } from './invalid-event-error';
import {
  isEntitlements,
  isLifecycle,
  type EntitlementsEvent,
  type FetchedEntitlements,
  type FetchedSnapshot,
  type LifecycleEvent,
  type NormalisedEvent,
  type Seconds,
} from './lifecycle-input';
import { normaliseEvent, sortedKeys } from './normalise-event';
import { reduceEvents, type EventResult, type ReduceOptions } from './reduce-events';
import { loadedFrom, loadMessage, scopeOf } from './store/load-world';
import { resolvableUnresolvedPage, SWEEP_START, type SweepCursor } from './store/resolvable-unresolved';
import { outboxIdsOf, writeMessage } from './store/write-effects';
import type { StripeObject } from './stripe-object';
import { subscriptionSnapshot } from './subscription-snapshot';

export interface ApplyOptions {
  /**
   * Fetches a subscription from the Stripe API, for checkout events (which carry none). Called
   * before the transaction opens; the object is applied as a snapshot taken when the request was
   * sent. A failure goes to `onEnrichmentError` and the event still applies.
   */
  fetchSubscription?: (stripeSubscriptionId: string) => Promise<StripeObject | undefined>;
  onEnrichmentError?: (error: unknown, stripeSubscriptionId: string) => void;
  /**
   * Lists all of a customer's active entitlements (their lookup keys) from the Stripe API, for an
   * entitlements summary that said `has_more` (it carries only a first page). Called before the
   * transaction opens; the list is a snapshot taken when the request was sent. Without it, or when
   * it fails (`onEntitlementsError`), the first page is stored marked incomplete.
   */
  fetchEntitlements?: (customerId: string) => Promise<string[]>;
  onEntitlementsError?: (error: unknown, customerId: string) => void;
  /** The access policy (`ACCESS_PAST_DUE_GRACE_DAYS`). @defaultValue DEFAULT_ACCESS_POLICY (7 days of grace) */
  accessPolicy?: AccessPolicy;
  /** The time access is decided at, in Unix seconds (tests). @defaultValue the clock's */
  now?: () => Seconds;
  /**
   * **Bench only** (the baseline of the outbox's cost, `npm run bench -- --only outbox`): `false`
   * leaves `billing_outbox` and `billing_outbox_subjects` unwritten (no rows, no `pg_notify`); the
   * changes are still derived. No app sets it: the host contract needs every change written.
   * @defaultValue true
   */
  writeOutbox?: boolean;
}

/** `duplicate`: the ledger already had this event id; nothing was written. */
export type ApplyResult = EventResult | { outcome: 'duplicate'; subscriptionId: string | null; customerId: string | null };

export interface BatchResult {
  /** Per event, in the order given: what it did, or the error that failed it (nothing of it written). */
  results: Array<ApplyResult | Error>;
  /** Stored `unresolved` events applied because their customer is now known. */
  reapplied: Map<string, EventResult>;
  /** Stored `unresolved` events whose customer is known but whose event was not kept: run their jobs again. */
  withoutEvent: string[];
  /** The `billing_outbox` ids the batch committed, ascending (the relay's to enqueue; `pg_notify` named them at commit). */
  outboxIds: number[];
  /** Entitlements summaries stored incomplete (`has_more` and the rest not fetched): the customers and events. */
  incompleteEntitlements: Array<{ eventId: string; customerId: string }>;
}

export class CommitFailedError extends Error {
  override name = 'CommitFailedError';
}

/**
 * Applies events in one Postgres transaction, in two round trips: lock and load everything they
 * touch, reduce them with the pure rules (`reduceEvents`), write the effects and commit. All of
 * it commits together or not at all. When the batch fails, each event is tried again in a
 * transaction of its own, so one bad event fails alone; an event not valid for its type fails
 * at once (`InvalidEventError`) without touching the database.
 *
 * `connection` is a client of one connection (`createConnection`), used by one call at a time.
 */
export async function applyEvents(
  connection: Sql,
  events: readonly StripeEvent[],
  config: BillingConfig,
  options: ApplyOptions = {},
): Promise<BatchResult> {
  if (connection.options.max !== 1) throw new TypeError('applyEvents: pass a client of one connection (createConnection), not a pool');
  const results: Array<ApplyResult | Error | undefined> = new Array(events.length);
  const normalised: Array<{ index: number; event: NormalisedEvent }> = [];
  // A second copy of an event id (a stalled job taken again while its first copy waits here)
  // shares its first copy's fate, settled once the batch is: its job may be the one holding the lock.
  const firstCopy = new Map<string, number>();
  const copies: Array<{ index: number; first: number }> = [];
  for (const [index, event] of events.entries()) {
    const first = firstCopy.get(event.id);
    if (first !== undefined) {
      copies.push({ index, first });
      continue;
    }
    firstCopy.set(event.id, index);
    try {
      normalised.push({ index, event: normaliseEvent(event, config) });
    } catch (error) {
      if (!(error instanceof InvalidEventError)) throw error;
      results[index] = error;
    }
  }
  const [fetched, fetchedEntitlements] = await Promise.all([
    fetchCheckoutSubscriptions(
      normalised.map((n) => n.event),
      config,
      options,
    ),
    fetchSummaryEntitlements(
      normalised.map((n) => n.event),
      options,
    ),
  ]);

  const batch: BatchResult = { results: [], reapplied: new Map(), withoutEvent: [], outboxIds: [], incompleteEntitlements: [] };
  const run = async (group: typeof normalised) => {
    const outcome = await transaction(
      connection,
      group.map((n) => n.event),
      fetched,
      { ...hostOptions(options), fetchedEntitlements },
    );
    for (const { index, event } of group)
      results[index] = outcome.results.get(event.id) ?? {
        outcome: 'duplicate',
        subscriptionId: event.subscriptionId,
        customerId: event.customerId,
      };
    for (const [id, result] of outcome.reapplied) batch.reapplied.set(id, result);
    batch.withoutEvent.push(...outcome.withoutEvent);
    batch.outboxIds.push(...outcome.outboxIds);
    batch.incompleteEntitlements.push(...outcome.incompleteEntitlements);
  };
  if (normalised.length > 0) {
    try {
      await run(normalised);
    } catch (error) {
      if (normalised.length === 1 || isConnectionError(error)) {
        for (const { index } of normalised) results[index] = asError(error);
      } else {
        for (const one of normalised) {
          try {
            await run([one]);
          } catch (single) {
            results[one.index] = asError(single);
          }
        }
      }
    }
  }
  for (const { index, first } of copies) results[index] = asCopy(results[first]!);
  batch.results = results as Array<ApplyResult | Error>;
  batch.outboxIds.sort((a, b) => a - b);
  return batch;
}

/** One event: its result, or the error that failed it thrown. */
export async function applyEvent(
  connection: Sql,
  event: StripeEvent,
  config: BillingConfig,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const { results } = await applyEvents(connection, [event], config, options);
  const result = results[0]!;
  if (result instanceof Error) throw result;
  return result;
}

export interface SweepResult {
  /** Unresolved events applied now (their user has become findable since). */
  reapplied: Map<string, EventResult>;
  /** Unresolved events whose user is findable but whose event was not kept: run their jobs again. */
  withoutEvent: string[];
  /** The `billing_outbox` ids committed. */
  outboxIds: number[];
}

/**
 * The periodic sweep's work: the `unresolved` events whose user can be found now — their
 * customer bound to a user (by the host application, say) or their subscription linked to one —
 * applied in one transaction per page of at most `limit` of them, under the same locks and rules
 * as any batch. Rows whose event was not kept stay `unresolved` (only their job can bring them
 * back): the sweep pages past them and reports each once in `withoutEvent`.
 */
export async function sweepUnresolved(
  connection: Sql,
  limit = 50,
  options: Pick<ApplyOptions, 'accessPolicy' | 'now'> = {},
): Promise<SweepResult> {
  const reapplied = new Map<string, EventResult>();
  const withoutEvent = new Set<string>();
  const outboxIds: number[] = [];
  for (let cursor: SweepCursor | undefined = SWEEP_START; cursor !== undefined;) {
    const page = await resolvableUnresolvedPage(connection, cursor, limit);
    cursor = page.next;
    for (const row of page.rows) if (!row.hasEvent) withoutEvent.add(row.eventId);
    const stored = page.rows.filter((row) => row.hasEvent);
    if (stored.length === 0) continue;
    const outcome = await transaction(connection, [], new Map(), hostOptions(options), {
      customerIds: stored.flatMap((row) => (row.customerId ? [row.customerId] : [])),
      subscriptionIds: stored.flatMap((row) => (row.subscriptionId ? [row.subscriptionId] : [])),
    });
    for (const [id, result] of outcome.reapplied) reapplied.set(id, result);
    for (const id of outcome.withoutEvent) withoutEvent.add(id);
    outboxIds.push(...outcome.outboxIds);
  }
  return { reapplied, withoutEvent: [...withoutEvent], outboxIds };
}

export interface AccessClockResult {
  /** Users whose decision the clock took again. */
  users: number[];
  /** Of them, those whose access it revoked. */
  revoked: number[];
  /** The `billing_outbox` ids committed (their `user.access_revoked` rows). */
  outboxIds: number[];
}

/**
 * The access clock (docs/design.md "Host application contract"): access that ends by the time
 * alone — a grace, a trial or a scheduled cancellation over with no event about it — revoked once
 * its `access_until` has come, with its `user.access_revoked` row (no event ids; `occurred_at` the
 * time the clock decided). Each page of at most `limit` due users is one transaction under the
 * same locks and writes as a batch of events (the users' rows `for update`): several workers may run
 * it at once, and a revocation is written once — the second finds the decision already taken.
 * With `undecided`, also users with a subscription and no `billing_access` row yet (rows from
 * before the host contract): their first decision.
 */
export async function applyAccessClock(
  connection: Sql,
  options: Pick<ApplyOptions, 'accessPolicy' | 'now'> & { limit?: number; undecided?: boolean } = {},
): Promise<AccessClockResult> {
  const limit = options.limit ?? 100;
  const result: AccessClockResult = { users: [], revoked: [], outboxIds: [] };
  const seen = new Set<number>();
  // Each page leaves its users decided (not due any more); a bound on pages in case one is not.
  for (let page = 0; page < 1_000; page += 1) {
    const now = hostOptions(options).now();
    const due = await connection.unsafe<Array<{ user_id: number }>>(
      `select user_id from billing_access where has_access and access_until <= to_timestamp($1) order by access_until, user_id limit $2`,
      [now, limit],
    );
    const undecided =
      options.undecided && due.length < limit
        ? await connection.unsafe<Array<{ user_id: number }>>(
            `select distinct s.user_id from subscriptions s
             where s.user_id is not null and not exists (select 1 from billing_access a where a.user_id = s.user_id)
             order by s.user_id limit $1`,
            [limit - due.length],
          )
        : [];
    const users = [...new Set([...due, ...undecided].map((r) => r.user_id))].filter((id) => !seen.has(id));
    if (users.length === 0) break;
    for (const id of users) seen.add(id);
    const outcome = await transaction(
      connection,
      [],
      new Map(),
      { ...hostOptions(options), now: () => now, clockUsers: users },
      { userIds: users },
    );
    result.users.push(...users);
    result.revoked.push(...outcome.revoked);
    result.outboxIds.push(...outcome.outboxIds);
  }
  return result;
}

interface TransactionOutcome {
  results: Map<string, ApplyResult>;
  reapplied: Map<string, EventResult>;
  withoutEvent: string[];
  outboxIds: number[];
  incompleteEntitlements: Array<{ eventId: string; customerId: string }>;
  /** Users whose access this transaction revoked. */
  revoked: number[];
}

/** What the host contract's share of a transaction needs: `now` is read once the rows are loaded and locked. */
type HostOptions = { now: () => Seconds; policy: AccessPolicy; writeOutbox?: boolean } & Pick<
  ReduceOptions,
  'fetchedEntitlements' | 'clockUsers'
>;

function hostOptions(options: Pick<ApplyOptions, 'accessPolicy' | 'now' | 'writeOutbox'>): HostOptions {
  return {
    now: () => Math.floor(options.now?.() ?? Date.now() / 1000),
    policy: options.accessPolicy ?? DEFAULT_ACCESS_POLICY,
    writeOutbox: options.writeOutbox,
  };
}

/**
 * One transaction in two round trips, each one message of several statements: `begin` and the
 * loads, then the writes and `commit`. The writes first check they run in this transaction
 * (after a reconnect they would autocommit), and what `commit` answered is checked: a COMMIT that
 * reaches an aborted transaction answers ROLLBACK without an error, and the batch must fail.
 */
async function transaction(
  connection: Sql,
  events: NormalisedEvent[],
  fetched: ReadonlyMap<string, FetchedSnapshot>,
  host: HostOptions,
  extra: Parameters<typeof scopeOf>[1] = {},
): Promise<TransactionOutcome> {
  const token = randomBytes(12).toString('hex');
  const scope = scopeOf(events, extra);
  try {
    const { fresh, world } = loadedFrom(await connection.unsafe(loadMessage(events, scope, token)), scope);
    // The decisions date from when the rows were loaded and locked.
    const reduced = reduceEvents(
      world,
      events.filter((e) => fresh.has(e.id)),
      fetched,
      { ...host, now: host.now() },
    );
    const effects = host.writeOutbox === false ? { ...reduced, host: { ...reduced.host, outbox: [], subjects: new Map() } } : reduced;
    const written = await connection.unsafe(writeMessage(effects, token));
    const command = lastCommand(written);
    if (command !== 'COMMIT') throw new CommitFailedError(`COMMIT answered ${String(command)}: the transaction did not commit`);

    const results = new Map<string, ApplyResult>();
    for (const event of events) {
      results.set(
        event.id,
        effects.results.get(event.id) ?? { outcome: 'duplicate', subscriptionId: event.subscriptionId, customerId: event.customerId },
      );
    }
    const outboxIds = outboxIdsOf(written);
    if (outboxIds.length !== effects.host.outbox.length) {
      throw new CommitFailedError(`the outbox statement named ${outboxIds.length} of the ${effects.host.outbox.length} rows written`);
    }
    return {
      results,
      reapplied: effects.reapplied,
      withoutEvent: effects.withoutEvent,
      outboxIds,
      incompleteEntitlements: [...effects.host.entitlements.values()]
        .filter((e) => !e.complete)
        .map((e) => ({ eventId: e.eventId, customerId: e.customerId })),
      revoked: effects.host.outbox.filter((o) => o.type === 'user.access_revoked' && o.userId !== null).map((o) => o.userId!),
    };
  } catch (error) {
    // Harmless when no transaction is open; pointless on a lost connection, where the server discarded it.
    if (!isConnectionError(error)) await connection`rollback`.catch(() => {});
    throw error;
  }
}

/**
 * The subscription of each checkout, fetched from the Stripe API (when configured), by event id: a
 * snapshot dated when the request was sent. The object is at least as new as that second, and a
 * time taken after the answer would make an event of the second the object was served look older
 * than it (a deletion would be `stale`).
 */
async function fetchCheckoutSubscriptions(
  events: NormalisedEvent[],
  config: BillingConfig,
  options: ApplyOptions,
): Promise<Map<string, FetchedSnapshot>> {
  const fetched = new Map<string, FetchedSnapshot>();
  const { fetchSubscription } = options;
  if (!fetchSubscription) return fetched;
  const checkouts = events.filter((e): e is LifecycleEvent => isLifecycle(e) && e.input.kind === 'hint' && e.input.hint === 'checkout');
  await Promise.all(
    checkouts.map(async (event) => {
      try {
        const at = Math.floor(Date.now() / 1000);
        const object = await fetchSubscription(event.subscriptionId);
        if (!object || typeof object.status !== 'string') return;
        fetched.set(event.id, { snapshot: subscriptionSnapshot(object, undefined, config, object.status), at });
      } catch (error) {
        options.onEnrichmentError?.(error, event.subscriptionId);
      }
    }),
  );
  return fetched;
}

/**
 * All of each customer's entitlements, listed from the Stripe API (when configured) for the
 * summaries that said `has_more`, by event id: a snapshot dated when the request was sent.
 */
async function fetchSummaryEntitlements(events: NormalisedEvent[], options: ApplyOptions): Promise<Map<string, FetchedEntitlements>> {
  const fetched = new Map<string, FetchedEntitlements>();
  const { fetchEntitlements } = options;
  if (!fetchEntitlements) return fetched;
  const partial = events.filter((e): e is EntitlementsEvent => isEntitlements(e) && e.hasMore);
  await Promise.all(
    partial.map(async (event) => {
      try {
        const at = Math.floor(Date.now() / 1000);
        fetched.set(event.id, { lookupKeys: sortedKeys(await fetchEntitlements(event.customerId)), at });
      } catch (error) {
        options.onEntitlementsError?.(error, event.customerId);
      }
    }),
  );
  return fetched;
}

/**
 * The command tag of a message's last statement. postgres-js starts a new result only for a
 * statement that returns rows, so statements without rows (the writes, `commit`) share one
 * result, which carries the last tag; several results come back as an array of them.
 */
function lastCommand(result: unknown): string | undefined {
  const last = Array.isArray(result) && Array.isArray(result.at(-1)) ? result.at(-1) : result;
  return (last as { command?: string }).command;
}

/** A copy's result: its first copy's error, or `duplicate` once its first copy committed. */
function asCopy(first: ApplyResult | Error): ApplyResult | Error {
  return first instanceof Error ? first : { outcome: 'duplicate', subscriptionId: first.subscriptionId, customerId: first.customerId };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
