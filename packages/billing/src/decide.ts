import type { StatusRule } from './intent';

export interface SubscriptionState {
  status: string;
  lastEventAt: Date | null;
}

export type Decision =
  /** Older than the newest event applied: status untouched; only missing fields may be filled. */
  | { outcome: 'stale'; fresh: false; status: string }
  /** Would move the subscription out of `canceled`, which is terminal: status untouched. */
  | { outcome: 'ignored'; fresh: true; status: string }
  | { outcome: 'applied'; fresh: true; status: string };

/** The status a new subscription row starts with. */
export function initialStatus(rule: StatusRule): string {
  if (rule.kind === 'set') return rule.status;
  return rule.kind === 'recover' ? 'active' : 'past_due';
}

function targetStatus(rule: StatusRule, current: string): string {
  if (rule.kind === 'set') return rule.status;
  if (rule.kind === 'past_due') return 'past_due';
  return current === 'past_due' ? 'active' : current; // recovery moves only past_due → active
}

/**
 * The lifecycle rules for an event against the subscription's current state.
 * Ties: `created` has one-second resolution, so an event from the same second as
 * `last_event_at` is applied (in arrival order); only a strictly older one is stale.
 */
export function decide(current: SubscriptionState, rule: StatusRule, eventAt: Date): Decision {
  if (current.lastEventAt && eventAt.getTime() < current.lastEventAt.getTime()) {
    return { outcome: 'stale', fresh: false, status: current.status };
  }
  const status = targetStatus(rule, current.status);
  if (current.status === 'canceled' && status !== 'canceled') {
    return { outcome: 'ignored', fresh: true, status: 'canceled' };
  }
  return { outcome: 'applied', fresh: true, status };
}
