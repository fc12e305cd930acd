import type { BatchDraft } from './batch-draft';
import type { FetchedSnapshot, Hint, LifecycleEvent, Seconds, Snapshot } from './lifecycle-input';
import { applyInput, type StepOutcome, type SubscriptionState } from './lifecycle';
import type { EventResult, Transition } from './reduce-events';
import { customerToBind, resolveUser } from './resolve-user';

/** What one event does, decided against the draft without changing it (`BatchDraft.record` takes it in). */
export interface EventStep {
  result: EventResult;
  /** Absent when the event found no user: then it did nothing else. */
  resolved?: {
    userId: number;
    /** The customer id this event binds to its user (found by metadata or email). */
    bound?: string;
    /** The subscription row as the event leaves it. */
    state: SubscriptionState;
    /** Whether that differs from the row before the event (or the row is new). */
    changed: boolean;
    transitions: Transition[];
  };
}

/**
 * One event: its user (docs/design.md "User resolution"; an erased customer's event by its
 * customer id only), the customer id it binds, then its input — and the subscription fetched from
 * the Stripe API for it, a snapshot at the fetch — through the lifecycle rules, with the status
 * transitions they make. The event's outcome is its own input's.
 */
export function eventStep(draft: BatchDraft, event: LifecycleEvent, fetched: FetchedSnapshot | undefined): EventStep {
  const ids = { subscriptionId: event.subscriptionId, customerId: event.customerId };
  const row = draft.subscriptions.get(event.subscriptionId);
  const found = resolveUser(draft.users, event.user, row?.userId ?? null, draft.isErased(event.customerId));
  if (!found) return { result: { outcome: 'unresolved', ...ids } };
  const bound = customerToBind(draft.users, found, event.customerId);

  const inputs: Array<[Snapshot | Hint, Seconds]> = [
    [event.input, event.created],
    ...(fetched ? [[fetched.snapshot, fetched.at] as [Snapshot, Seconds]] : []),
  ];
  const transitions: Transition[] = [];
  let outcome: StepOutcome | undefined;
  let state = row;
  for (const [input, at] of inputs) {
    const before = state;
    const step = applyInput(state, input, at, { ...ids, userId: found.user.id });
    outcome ??= step.outcome;
    state = step.state;
    if (before?.status !== state.status) {
      transitions.push({
        subscriptionId: event.subscriptionId,
        from: before?.status ?? null,
        to: state.status,
        eventId: event.id,
        eventCreatedAt: at,
      });
    }
  }
  let after = state as SubscriptionState;
  if (after.userId === null) after = { ...after, userId: found.user.id };
  if (after.customerId === null && event.customerId !== null) after = { ...after, customerId: event.customerId };

  return {
    result: {
      outcome: outcome!,
      ...ids,
      ...(row?.status !== after.status && { statusChange: { from: row?.status ?? null, to: after.status } }),
      userVia: found.via,
      ...(bound !== undefined && { linkedCustomerId: bound }),
    },
    resolved: {
      userId: found.user.id,
      ...(bound !== undefined && { bound }),
      state: after,
      changed: !row || !sameState(row, after),
      transitions,
    },
  };
}

function sameState(a: SubscriptionState, b: SubscriptionState): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
