/**
 * The orders docs/design.md gives Stripe's subscription statuses.
 */

/** Further along the lifecycle wins between events of the same second. */
const LIFECYCLE_ORDER: Record<string, number> = {
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  unpaid: 4,
  paused: 5,
  canceled: 6,
  incomplete_expired: 6,
};

/** The user's status is the most favourable of their subscriptions'. */
const USER_FAVOUR_ORDER = ['active', 'trialing', 'past_due', 'unpaid', 'paused', 'incomplete', 'incomplete_expired', 'canceled'];

const TERMINAL = new Set(['canceled', 'incomplete_expired']);

/** Nothing moves a subscription out of these (a resubscription is a new subscription id). */
export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

/** Position along the lifecycle; an unknown status sorts first, so it never overrides a known one. */
export function lifecycleRank(status: string): number {
  return LIFECYCLE_ORDER[status] ?? -1;
}

/** The most favourable status among a user's subscriptions; `null` when there are none. */
export function mostFavourable(statuses: Iterable<string>): string | null {
  let best: string | null = null;
  let bestRank = Infinity;
  for (const status of statuses) {
    const rank = USER_FAVOUR_ORDER.indexOf(status);
    const effective = rank === -1 ? USER_FAVOUR_ORDER.length : rank;
    if (effective < bestRank) {
      best = status;
      bestRank = effective;
    }
  }
  return best;
}
