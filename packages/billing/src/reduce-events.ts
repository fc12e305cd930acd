import type { Outcome } from '@billing/db/schema';
import { DEFAULT_ACCESS_POLICY, type AccessPolicy } from './access-policy';
import { BatchDraft } from './batch-draft';
import type { CustomerEntitlementsState } from './entitlements';
import { eventStep } from './event-step';
import { hostEffects, type HostEffects, type OutboxSubject, type StoredAccess } from './host-effects';
import {
  isIgnored,
  isLifecycle,
  type EntitlementsEvent,
  type FetchedEntitlements,
  type FetchedSnapshot,
  type LifecycleEvent,
  type NormalisedEvent,
  type Seconds,
} from './lifecycle-input';
import type { SubscriptionState } from './lifecycle';
import { isResolvable, type ResolvedVia, type UserDirectory, type UserRecord } from './resolve-user';
import { mostFavourable } from './statuses';

/**
 * Many events against the state they touch, in one pure step: the functional core the worker's
 * shell loads for, calls, and writes back in one transaction. One event is a batch of one.
 */

/** An `unresolved` ledger row of one of the batch's customers or subscriptions. */
export interface StoredUnresolved {
  eventId: string;
  created: Seconds | null;
  customerId: string | null;
  subscriptionId: string | null;
  /** The normalised event kept with the row; `null` for rows recorded before it was kept. */
  event: LifecycleEvent | null;
}

/** What the shell loaded, under the batch's locks. */
export interface World {
  subscriptions: ReadonlyMap<string, SubscriptionState>;
  users: UserDirectory;
  /** Every subscription (id → status) of each loaded user, also those this batch does not touch. */
  userSubscriptions: ReadonlyMap<number, ReadonlyMap<string, string>>;
  /** The `unresolved` ledger rows of the batch's customers and subscriptions. */
  unresolved: readonly StoredUnresolved[];
  /** Which of the customers loaded were erased (`erased_customers`): found only by their customer id. */
  erasedCustomers?: ReadonlySet<string>;
  /** Every subscription row of each loaded user, whole (the access decision reads them). */
  userSubscriptionStates?: ReadonlyMap<number, ReadonlyMap<string, SubscriptionState>>;
  /** The loaded users' `billing_access` rows. */
  access?: ReadonlyMap<number, StoredAccess>;
  /** `customer_entitlements` of the batch's customers and of the loaded users' customers. */
  customerEntitlements?: ReadonlyMap<string, CustomerEntitlementsState>;
  /** `billing_outbox_subjects` of the batch's subscriptions and of the loaded users. */
  outboxSubjects?: ReadonlyMap<string, OutboxSubject>;
}

export interface ReduceOptions {
  /** When the access decisions are taken (Unix seconds). @defaultValue the time of the call */
  now?: Seconds;
  /** @defaultValue DEFAULT_ACCESS_POLICY (7 days of grace) */
  policy?: AccessPolicy;
  /** The entitlements listed from the Stripe API for summaries that said `has_more`, by event id. */
  fetchedEntitlements?: ReadonlyMap<string, FetchedEntitlements>;
  /** Users whose access the clock decides again (`applyAccessClock`). */
  clockUsers?: readonly number[];
}

export interface EventResult {
  outcome: Outcome;
  subscriptionId: string | null;
  customerId: string | null;
  statusChange?: { from: string | null; to: string };
  userVia?: ResolvedVia;
  /** This event bound its customer id to the user it found (by metadata or email). */
  linkedCustomerId?: string;
}

export interface Transition {
  subscriptionId: string;
  from: string | null;
  to: string;
  eventId: string;
  eventCreatedAt: Seconds;
}

export interface LedgerChange {
  eventId: string;
  outcome: Outcome;
  /** Kept with an `unresolved` row so it can be applied once its customer is known (emails left out). */
  unresolvedEvent: LifecycleEvent | null;
}

/** A user as the batch found and left it: what the status is derived from, and the status. */
export interface UserState {
  customerId: string | null;
  status: string | null;
  /** Each of the user's subscriptions (id → status). */
  subscriptions: ReadonlyMap<string, string>;
}

/** A subscription row or a user, as loaded and as the batch leaves it (`before` undefined: a new row). */
export interface Change<T> {
  before: T | undefined;
  after: T;
}

export interface Effects {
  /** One per event of the batch. */
  results: Map<string, EventResult>;
  /** Stored `unresolved` rows applied now that their customer is known. */
  reapplied: Map<string, EventResult>;
  /** Subscription rows to write. */
  subscriptions: Map<string, SubscriptionState>;
  /** Users whose customer id or derived status changed. */
  users: Map<number, Pick<UserRecord, 'customerId' | 'status'>>;
  transitions: Transition[];
  /** Ledger rows whose outcome differs from the `applied` the shell inserted (or from their stored `unresolved`). */
  ledger: LedgerChange[];
  /** Stored `unresolved` rows whose customer is known but whose event was not kept: their jobs must run again. */
  withoutEvent: string[];
  /**
   * What a later step derives from without running the rules again (the outbox of billing
   * changes, the access decision): each subscription row the batch changed, and each user it
   * touched (resolved an event to, or bound), before and after.
   */
  changes: {
    subscriptions: Map<string, Change<SubscriptionState>>;
    users: Map<number, Change<UserState>>;
  };
  /** The host application contract's writes: outbox rows, access decisions, entitlements (`host-effects.ts`). */
  host: HostEffects;
}

/**
 * 1. applies the batch's events in `created` order (stable): user resolution, customer binding,
 *    the lifecycle rules per subscription, the transitions they make;
 * 2. applies again, in `created` order, every `unresolved` event whose user can be found now;
 * 3. derives each touched user's status from all of their subscriptions;
 * 4. the ledger's outcomes;
 * 5. the host application contract's writes, step by step (`hostEffects`).
 * `fetched`: the subscriptions fetched from the Stripe API for the batch's events, by event id.
 */
export function reduceEvents(
  world: World,
  events: readonly NormalisedEvent[],
  fetched: ReadonlyMap<string, FetchedSnapshot> = new Map(),
  options: ReduceOptions = {},
): Effects {
  const draft = new BatchDraft(world);
  const apply = (event: LifecycleEvent | EntitlementsEvent): EventResult =>
    isLifecycle(event)
      ? draft.record(eventStep(draft, event, fetched.get(event.id)), event)
      : draft.recordEntitlements(event, options.fetchedEntitlements?.get(event.id));

  const batch = applyBatch(events, apply);
  const again = applyResolvable(pendingOf(world, events, batch.unresolved), draft, apply);
  for (const [eventId, result] of again.batch) batch.results.set(eventId, result);
  const users = userChanges(world, draft);

  return {
    results: batch.results,
    reapplied: again.reapplied,
    subscriptions: new Map([...draft.changed].map(([id, change]) => [id, change.after])),
    users: new Map(
      [...users]
        .filter(([, { before, after }]) => after.status !== before?.status || after.customerId !== before?.customerId)
        .map(([id, { after }]) => [id, { customerId: after.customerId, status: after.status }]),
    ),
    transitions: draft.transitions,
    ledger: ledgerChanges(events, batch.results, again.reapplied),
    withoutEvent: again.withoutEvent,
    changes: { subscriptions: draft.changed, users },
    host: hostEffects(world, draft, {
      now: options.now ?? Math.floor(Date.now() / 1000),
      policy: options.policy ?? DEFAULT_ACCESS_POLICY,
      ...(options.clockUsers && { clockUsers: options.clockUsers }),
    }),
  };
}

/** 1. The batch, oldest first (same second: arrival order). */
function applyBatch(
  events: readonly NormalisedEvent[],
  apply: (event: LifecycleEvent | EntitlementsEvent) => EventResult,
): { results: Map<string, EventResult>; unresolved: LifecycleEvent[] } {
  const results = new Map<string, EventResult>();
  const unresolved: LifecycleEvent[] = [];
  const ordered = events.map((event, index) => ({ event, index })).sort((a, b) => a.event.created - b.event.created || a.index - b.index);
  for (const { event } of ordered) {
    if (isIgnored(event)) {
      results.set(event.id, { outcome: 'ignored', subscriptionId: event.subscriptionId, customerId: event.customerId });
      continue;
    }
    const result = apply(event);
    results.set(event.id, result);
    if (result.outcome === 'unresolved' && isLifecycle(event)) unresolved.push(event);
  }
  return { results, unresolved };
}

interface Pending extends StoredUnresolved {
  /** One of the batch's own events (its result is the batch's), else a stored row (re-applied). */
  inBatch: boolean;
}

/** The unresolved events step 2 may apply: the stored ones (but the batch's own) and those of the batch, in `created` order. */
function pendingOf(world: World, events: readonly NormalisedEvent[], unresolved: readonly LifecycleEvent[]): Pending[] {
  const batchIds = new Set(events.map((e) => e.id));
  const pending: Pending[] = [
    ...world.unresolved.filter((row) => !batchIds.has(row.eventId)).map((row) => ({ ...row, inBatch: false })),
    ...unresolved.map((event) => ({
      eventId: event.id,
      created: event.created,
      customerId: event.customerId,
      subscriptionId: event.subscriptionId,
      event,
      inBatch: true,
    })),
  ];
  return pending.sort((a, b) => (a.created ?? 0) - (b.created ?? 0) || (a.eventId < b.eventId ? -1 : 1));
}

/**
 * 2. No unresolved event stays unresolved once its user can be found (`isResolvable`): its
 *    customer is bound to a user, or its subscription's row is linked to one. Applying one may
 *    link a row another waits for, so until nothing more applies; in `created` order. A row whose
 *    event was not kept cannot be applied here: it is reported for its job to run again.
 */
function applyResolvable(
  pending: Pending[],
  draft: BatchDraft,
  apply: (event: LifecycleEvent) => EventResult,
): { batch: Map<string, EventResult>; reapplied: Map<string, EventResult>; withoutEvent: string[] } {
  const outcome = { batch: new Map<string, EventResult>(), reapplied: new Map<string, EventResult>(), withoutEvent: [] as string[] };
  let waiting = pending;
  for (let progress = true; progress;) {
    progress = false;
    const still: Pending[] = [];
    for (const row of waiting) {
      if (!isResolvable(row, draft)) {
        still.push(row);
      } else if (row.event === null) {
        outcome.withoutEvent.push(row.eventId);
      } else {
        const result = apply(row.event);
        (row.inBatch ? outcome.batch : outcome.reapplied).set(row.eventId, result);
        if (result.outcome === 'unresolved') still.push(row);
        else progress = true;
      }
    }
    waiting = still;
  }
  return outcome;
}

/** 3. Each touched user: customer id and status (the most favourable of all their subscriptions'), as loaded and now. */
function userChanges(world: World, draft: BatchDraft): Map<number, Change<UserState>> {
  const changes = new Map<number, Change<UserState>>();
  for (const userId of draft.touchedUsers) {
    const user = draft.users.byId.get(userId);
    if (!user) continue;
    const loaded = world.users.byId.get(userId);
    const before = world.userSubscriptions.get(userId) ?? new Map<string, string>();
    const after = new Map(before);
    for (const state of draft.subscriptions.values()) if (state.userId === userId) after.set(state.subscriptionId, state.status);
    changes.set(userId, {
      before: loaded && { customerId: loaded.customerId, status: loaded.status, subscriptions: before },
      after: { customerId: user.customerId, status: mostFavourable(after.values()), subscriptions: after },
    });
  }
  return changes;
}

/** 4. The ledger: the shell inserted every new event as `applied` (and reset re-processed `unresolved` rows to it). */
function ledgerChanges(
  events: readonly NormalisedEvent[],
  results: ReadonlyMap<string, EventResult>,
  reapplied: ReadonlyMap<string, EventResult>,
): LedgerChange[] {
  const ledger: LedgerChange[] = [];
  for (const event of events) {
    const result = results.get(event.id)!;
    if (result.outcome === 'applied') continue;
    ledger.push({
      eventId: event.id,
      outcome: result.outcome,
      unresolvedEvent: result.outcome === 'unresolved' && isLifecycle(event) ? storable(event) : null,
    });
  }
  for (const [eventId, result] of reapplied) {
    if (result.outcome !== 'unresolved') ledger.push({ eventId, outcome: result.outcome, unresolvedEvent: null });
  }
  return ledger;
}

/** What is kept of an unresolved event: all but the emails (resolution by customer id needs none). */
function storable(event: LifecycleEvent): LifecycleEvent {
  return { ...event, user: { ...event.user, emails: [] } };
}
