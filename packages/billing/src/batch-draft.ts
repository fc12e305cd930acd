import type { EventStep } from './event-step';
import type { SubscriptionState } from './lifecycle';
import type { Change, EventResult, Transition, World } from './reduce-events';
import { bindCustomer, copyDirectory, type ResolutionView, type UserDirectory } from './resolve-user';

/**
 * The batch's working state: the loaded world as the events applied so far left it, and what the
 * shell will write. Only `record` changes it, one event's step at a time.
 */
export class BatchDraft implements ResolutionView {
  readonly subscriptions: Map<string, SubscriptionState>;
  readonly users: UserDirectory;
  readonly erasedCustomers: ReadonlySet<string>;
  /** Each subscription row an event changed: as loaded (undefined: new) and as it stands now. */
  readonly changed = new Map<string, Change<SubscriptionState>>();
  readonly transitions: Transition[] = [];
  /** Users an event resolved to or bound a customer to: their status is derived again. */
  readonly touchedUsers = new Set<number>();

  constructor(private readonly world: World) {
    this.subscriptions = new Map(world.subscriptions);
    this.users = copyDirectory(world.users);
    this.erasedCustomers = world.erasedCustomers ?? new Set();
  }

  isErased(customerId: string | null): boolean {
    return customerId !== null && this.erasedCustomers.has(customerId);
  }

  /** Takes in what one event did; returns its result. */
  record(step: EventStep): EventResult {
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
    return step.result;
  }
}
