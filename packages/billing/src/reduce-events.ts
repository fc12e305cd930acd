import type { Outcome } from '@billing/db/schema';
import { isIgnored, type FetchedSnapshot, type LifecycleEvent, type NormalisedEvent, type Seconds } from './lifecycle-input';
import { applyInput, type Step, type SubscriptionState } from './lifecycle';
import { resolveUser, type ResolvedVia, type UserDirectory, type UserRecord } from './resolve-user';
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
}

/**
 * 1. applies the events in `created` order (stable): user resolution, customer binding, the
 *    lifecycle rules per subscription, the transitions they make;
 * 2. applies again, in `created` order, every `unresolved` event of a customer that now has a user;
 * 3. derives each touched user's status from all of their subscriptions.
 */
export function reduceEvents(
  world: World,
  events: readonly NormalisedEvent[],
  fetched: ReadonlyMap<string, FetchedSnapshot> = new Map(),
): Effects {
  const subscriptions = new Map(world.subscriptions);
  const users: UserDirectory = {
    byId: new Map(world.users.byId),
    byCustomer: new Map(world.users.byCustomer),
    byEmail: new Map(world.users.byEmail),
  };
  const effects: Effects = {
    results: new Map(),
    reapplied: new Map(),
    subscriptions: new Map(),
    users: new Map(),
    transitions: [],
    ledger: [],
    withoutEvent: [],
  };
  const touchedUsers = new Set<number>();
  const batchIds = new Set(events.map((e) => e.id));
  const pending: Array<StoredUnresolved & { inBatch: boolean }> = world.unresolved
    .filter((row) => !batchIds.has(row.eventId))
    .map((row) => ({ ...row, inBatch: false }));

  const isErased = (customerId: string | null) => customerId !== null && (world.erasedCustomers?.has(customerId) ?? false);
  const apply = (event: LifecycleEvent): EventResult => {
    const ids = { subscriptionId: event.subscriptionId, customerId: event.customerId };
    const row = subscriptions.get(event.subscriptionId);
    const found = resolveUser(users, event.user, row?.userId ?? null, isErased(event.customerId));
    if (!found) return { outcome: 'unresolved', ...ids };

    // A user found by metadata or email gets the customer id bound if it has none.
    let linkedCustomerId: string | undefined;
    if (
      (found.via === 'metadata' || found.via === 'email') &&
      event.customerId !== null &&
      found.user.customerId === null &&
      !users.byCustomer.has(event.customerId)
    ) {
      users.byId.set(found.user.id, { ...found.user, customerId: event.customerId });
      users.byCustomer.set(event.customerId, found.user.id);
      linkedCustomerId = event.customerId;
      touchedUsers.add(found.user.id);
    }

    const newRow = { ...ids, userId: found.user.id };
    const fetchedFor = fetched.get(event.id);
    const steps: Array<Step & { at: Seconds }> = [];
    let state = row;
    for (const [input, at] of [
      [event.input, event.created],
      ...(fetchedFor ? [[fetchedFor.snapshot, fetchedFor.at] as const] : []),
    ] as const) {
      const before = state;
      const step = applyInput(state, input, at, newRow);
      steps.push({ ...step, at });
      state = step.state;
      if (before?.status !== state.status) {
        effects.transitions.push({
          subscriptionId: event.subscriptionId,
          from: before?.status ?? null,
          to: state.status,
          eventId: event.id,
          eventCreatedAt: at,
        });
      }
    }
    state = state as SubscriptionState;
    if (state.userId === null) state = { ...state, userId: found.user.id };
    if (state.customerId === null && event.customerId !== null) state = { ...state, customerId: event.customerId };
    if (!row || !sameState(row, state)) {
      subscriptions.set(event.subscriptionId, state);
      effects.subscriptions.set(event.subscriptionId, state);
    }
    if (state.userId !== null) touchedUsers.add(state.userId);

    const outcome = steps[0]!.outcome;
    return {
      outcome,
      ...ids,
      ...(row?.status !== state.status && { statusChange: { from: row?.status ?? null, to: state.status } }),
      userVia: found.via,
      ...(linkedCustomerId !== undefined && { linkedCustomerId }),
    };
  };

  // 1. The batch, oldest first (same second: arrival order).
  const ordered = events.map((event, index) => ({ event, index })).sort((a, b) => a.event.created - b.event.created || a.index - b.index);
  for (const { event } of ordered) {
    if (isIgnored(event)) {
      effects.results.set(event.id, { outcome: 'ignored', subscriptionId: event.subscriptionId, customerId: event.customerId });
      continue;
    }
    const result = apply(event);
    effects.results.set(event.id, result);
    if (result.outcome === 'unresolved') {
      pending.push({
        eventId: event.id,
        created: event.created,
        customerId: event.customerId,
        subscriptionId: event.subscriptionId,
        event,
        inBatch: true,
      });
    }
  }

  // 2. No unresolved event stays unresolved once its user can be found: its customer is bound
  //    to a user, or its subscription's row is linked to one. Applying one may link a row
  //    another waits for, so until nothing more applies; in `created` order.
  pending.sort((a, b) => (a.created ?? 0) - (b.created ?? 0) || (a.eventId < b.eventId ? -1 : 1));
  const resolvable = (row: StoredUnresolved) =>
    (row.customerId !== null && users.byCustomer.has(row.customerId)) ||
    (row.subscriptionId !== null && !isErased(row.customerId) && (subscriptions.get(row.subscriptionId)?.userId ?? null) !== null);
  for (let progress = true; progress;) {
    progress = false;
    for (const row of pending.splice(0)) {
      if (!resolvable(row)) {
        pending.push(row);
      } else if (row.event === null) {
        effects.withoutEvent.push(row.eventId);
      } else {
        const result = apply(row.event);
        (row.inBatch ? effects.results : effects.reapplied).set(row.eventId, result);
        if (result.outcome === 'unresolved') pending.push(row);
        else progress = true;
      }
    }
  }

  // 3. Each touched user's status, from all of their subscriptions.
  for (const userId of touchedUsers) {
    const user = users.byId.get(userId);
    if (!user) continue;
    const statuses = new Map(world.userSubscriptions.get(userId) ?? []);
    for (const state of subscriptions.values()) if (state.userId === userId) statuses.set(state.subscriptionId, state.status);
    const status = mostFavourable(statuses.values());
    const original = world.users.byId.get(userId);
    if (status !== original?.status || user.customerId !== original?.customerId)
      effects.users.set(userId, { customerId: user.customerId, status });
  }

  // The ledger: the shell inserted every new event as `applied` (and reset re-processed `unresolved` rows to it).
  for (const event of events) {
    const result = effects.results.get(event.id)!;
    if (result.outcome === 'applied') continue;
    effects.ledger.push({
      eventId: event.id,
      outcome: result.outcome,
      unresolvedEvent: result.outcome === 'unresolved' && !isIgnored(event) ? storable(event) : null,
    });
  }
  for (const [eventId, result] of effects.reapplied) {
    if (result.outcome !== 'unresolved') effects.ledger.push({ eventId, outcome: result.outcome, unresolvedEvent: null });
  }
  return effects;
}

function sameState(a: SubscriptionState, b: SubscriptionState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What is kept of an unresolved event: all but the emails (resolution by customer id needs none). */
function storable(event: LifecycleEvent): LifecycleEvent {
  return { ...event, user: { ...event.user, emails: [] } };
}
