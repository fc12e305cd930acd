import type { Outcome } from '@billing/db/schema';
import { entitlementsStep, type CustomerEntitlementsState } from './entitlements';
import type { EventStep } from './event-step';
import type { EntitlementsEvent, FetchedEntitlements, Seconds } from './lifecycle-input';
import type { SubscriptionState } from './lifecycle';
import type { Change, EventResult, Transition, World } from './reduce-events';
import { bindCustomer, copyDirectory, type ResolutionView, type UserDirectory } from './resolve-user';

/**
 * What one event did, in the order the batch applied them: what the outbox of billing changes and
 * the access decisions are derived from, step by step (`host-effects.ts`), so several changes of one
 * subject in one batch are told in the order they happened.
 */
export type StepRecord =
  | {
      kind: 'subscription';
      eventId: string;
      created: Seconds;
      outcome: Outcome;
      /** The subscription's user (the one it is linked to, else the one the event found). */
      userId: number;
      /** The customer id this event bound to the user it found (`boundTo`). */
      bound?: string;
      boundTo?: number;
      /** The subscription row as the event left it. */
      state: SubscriptionState;
      /** Whether the row differs from before the event (or is new). */
      changed: boolean;
    }
  | {
      kind: 'entitlements';
      eventId: string;
      created: Seconds;
      outcome: Outcome;
      customerId: string;
      /** The summary the event stored; undefined when it replaced nothing (stale, or erased). */
      state: CustomerEntitlementsState | undefined;
    };

/**
 * The batch's working state: the loaded world as the events applied so far left it, and what the
 * shell will write. Only `record` and `recordEntitlements` change it, one event's step at a time.
 */
export class BatchDraft implements ResolutionView {
  readonly subscriptions: Map<string, SubscriptionState>;
  readonly users: UserDirectory;
  readonly erasedCustomers: ReadonlySet<string>;
  readonly customerEntitlements: Map<string, CustomerEntitlementsState>;
  /** Each subscription row an event changed: as loaded (undefined: new) and as it stands now. */
  readonly changed = new Map<string, Change<SubscriptionState>>();
  /** Each customer's entitlements an event replaced: as loaded (undefined: none) and as stored now. */
  readonly changedEntitlements = new Map<string, Change<CustomerEntitlementsState>>();
  readonly transitions: Transition[] = [];
  /** Users an event resolved to or bound a customer to: their status is derived again. */
  readonly touchedUsers = new Set<number>();
  /** Every step, in the order applied. */
  readonly steps: StepRecord[] = [];

  constructor(private readonly world: World) {
    this.subscriptions = new Map(world.subscriptions);
    this.users = copyDirectory(world.users);
    this.erasedCustomers = world.erasedCustomers ?? new Set();
    this.customerEntitlements = new Map(world.customerEntitlements ?? []);
  }

  isErased(customerId: string | null): boolean {
    return customerId !== null && this.erasedCustomers.has(customerId);
  }

  /** Takes in what one event did; returns its result. */
  record(step: EventStep, event: { id: string; created: Seconds }): EventResult {
    const { resolved } = step;
    if (!resolved) return step.result;
    if (resolved.bound !== undefined) {
      bindCustomer(this.users, resolved.userId, resolved.bound);
      this.touchedUsers.add(resolved.userId);
    }
    this.transitions.push(...resolved.transitions);
    const { state } = resolved;
    if (resolved.changed) {
      this.subscriptions.set(state.subscriptionId, state);
      this.changed.set(state.subscriptionId, { before: this.world.subscriptions.get(state.subscriptionId), after: state });
    }
    if (state.userId !== null) this.touchedUsers.add(state.userId);
    this.steps.push({
      kind: 'subscription',
      eventId: event.id,
      created: event.created,
      outcome: step.result.outcome,
      userId: state.userId ?? resolved.userId,
      ...(resolved.bound !== undefined && { bound: resolved.bound, boundTo: resolved.userId }),
      state,
      changed: resolved.changed,
    });
    return step.result;
  }

  /**
   * A customer's entitlements summary (`entitlements.ts`): stored when newer than the one held. The
   * summary of an erased customer is stored only once the host application has bound the customer
   * to a user again (else `ignored`: nothing of the customer is kept).
   */
  recordEntitlements(event: EntitlementsEvent, fetched: FetchedEntitlements | undefined): EventResult {
    const ids = { subscriptionId: null, customerId: event.customerId };
    if (this.isErased(event.customerId) && !this.users.byCustomer.has(event.customerId)) return { outcome: 'ignored', ...ids };
    const stored = this.customerEntitlements.get(event.customerId);
    const { outcome, state } = entitlementsStep(stored, event, fetched);
    if (state) {
      this.customerEntitlements.set(event.customerId, state);
      this.changedEntitlements.set(event.customerId, { before: this.world.customerEntitlements?.get(event.customerId), after: state });
    }
    this.steps.push({ kind: 'entitlements', eventId: event.id, created: event.created, outcome, customerId: event.customerId, state });
    return { outcome, ...ids };
  }
}
