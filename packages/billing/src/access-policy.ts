import type { AccessReason } from '@billing/db/schema';
import type { Seconds } from './lifecycle-input';
import type { SubscriptionState } from './lifecycle';

/**
 * docs/design.md "Host application contract", access policy: one decision per user, a pure function
 * of all of the user's subscriptions, the policy and the time.
 * - `active` and `trialing` grant; `past_due` grants for the grace, counted from when the
 *   subscription became `past_due` (`statusSince`, the time of the event that made it so); every
 *   other status does not.
 * - A trial ends with its `trial_end`; a scheduled cancellation (`cancel_at`) ends any grant when it
 *   takes effect; a grant whose end has come grants nothing, whatever the row's status still says.
 * - A subscription whose status is provisional (no Stripe subscription object applied yet: a guess
 *   from a checkout or an invoice) grants nothing until its object arrives.
 * - The user has access when any subscription grants it. The best grant — the one that lasts longest
 *   (no end first), then by reason (`active`, `trialing`, `cancellation_scheduled`,
 *   `past_due_grace`), then the one whose status is newest, then the subscription id — gives the
 *   plan and the reason; its end is when the user's access ends by the clock alone, so nothing about
 *   the decision changes by the clock before then.
 */

export interface AccessPolicy {
  /**
   * How long a `past_due` subscription keeps granting, from when it became `past_due`
   * (`ACCESS_PAST_DUE_GRACE_DAYS`).
   * @defaultValue 7 days
   */
  pastDueGraceSeconds: number;
}

export const DEFAULT_PAST_DUE_GRACE_DAYS = 7;

export const DEFAULT_ACCESS_POLICY: AccessPolicy = { pastDueGraceSeconds: DEFAULT_PAST_DUE_GRACE_DAYS * 86_400 };

/** What one subscription grants now, and the rule that says so. */
export interface SubscriptionGrant {
  subscriptionId: string;
  grants: boolean;
  /** `none` when it grants nothing. */
  reason: AccessReason;
  /** When its grant ends by the clock alone (grace end, trial end, scheduled cancellation); null: not by the clock. */
  until: Seconds | null;
  /** The rule, in words, for `npm run explain`. */
  rule: string;
}

export interface AccessDecision {
  hasAccess: boolean;
  /** The best grant's plan; null without access. */
  planSlug: string | null;
  reason: AccessReason;
  /** When the access ends by the clock alone; null without access, or when no clock ends it. */
  accessUntil: Seconds | null;
  /** The subscription whose grant decided it; null without access. */
  subscriptionId: string | null;
}

export const NO_ACCESS: AccessDecision = { hasAccess: false, planSlug: null, reason: 'none', accessUntil: null, subscriptionId: null };

const REASON_RANK: Record<AccessReason, number> = { active: 0, trialing: 1, cancellation_scheduled: 2, past_due_grace: 3, none: 4 };

export function subscriptionGrant(s: SubscriptionState, now: Seconds, policy: AccessPolicy): SubscriptionGrant {
  const none = (rule: string): SubscriptionGrant => ({
    subscriptionId: s.subscriptionId,
    grants: false,
    reason: 'none',
    until: null,
    rule,
  });
  if (s.snapshotAt === null)
    return none(`${s.status} is provisional (no subscription object from Stripe yet): grants nothing until it arrives`);
  let reason: AccessReason;
  let until: Seconds | null;
  let rule: string;
  switch (s.status) {
    case 'active':
      [reason, until, rule] = ['active', null, 'active grants'];
      break;
    case 'trialing':
      [reason, until] = ['trialing', s.facts.trialEnd];
      rule = until === null ? 'trialing grants' : `trialing grants until the trial ends (${iso(until)})`;
      break;
    case 'past_due': {
      const since = s.statusSince ?? s.statusAt ?? now;
      [reason, until] = ['past_due_grace', since + policy.pastDueGraceSeconds];
      rule = `past_due grants for the grace (${days(policy.pastDueGraceSeconds)}) from when it became past_due (${iso(since)}): until ${iso(until)}`;
      break;
    }
    default:
      return none(`${s.status} does not grant`);
  }
  const cancelAt = s.facts.cancelAt;
  if (cancelAt !== null && (until === null || cancelAt <= until)) {
    [reason, until] = ['cancellation_scheduled', cancelAt];
    rule += `; a cancellation scheduled for ${iso(cancelAt)} ends it then`;
  }
  if (until !== null && now >= until) return none(`${rule} — over since ${iso(until)}`);
  return { subscriptionId: s.subscriptionId, grants: true, reason, until, rule };
}

/** The user's decision from all of their subscriptions at `now`; also each subscription's grant (for explain). */
export function accessDecision(
  subscriptions: Iterable<SubscriptionState>,
  now: Seconds,
  policy: AccessPolicy,
): AccessDecision & { grants: SubscriptionGrant[] } {
  const all = [...subscriptions];
  const grants = all.map((s) => subscriptionGrant(s, now, policy));
  const states = new Map(all.map((s) => [s.subscriptionId, s]));
  const granting = grants.filter((g) => g.grants).sort((a, b) => compareGrants(a, b, states));
  const best = granting[0];
  if (!best) return { ...NO_ACCESS, grants };
  return {
    hasAccess: true,
    planSlug: states.get(best.subscriptionId)!.facts.planSlug,
    reason: best.reason,
    accessUntil: best.until,
    subscriptionId: best.subscriptionId,
    grants,
  };
}

/** Best first: the longest lasting (no end first), then by reason, then the newest status, then by id. */
function compareGrants(a: SubscriptionGrant, b: SubscriptionGrant, states: ReadonlyMap<string, SubscriptionState>): number {
  const end = (g: SubscriptionGrant) => g.until ?? Infinity;
  if (end(a) !== end(b)) return end(b) - end(a);
  if (a.reason !== b.reason) return REASON_RANK[a.reason] - REASON_RANK[b.reason];
  const since = (g: SubscriptionGrant) => {
    const s = states.get(g.subscriptionId)!;
    return s.statusSince ?? s.statusAt ?? 0;
  };
  if (since(a) !== since(b)) return since(b) - since(a);
  return a.subscriptionId < b.subscriptionId ? -1 : a.subscriptionId > b.subscriptionId ? 1 : 0;
}

function iso(seconds: Seconds): string {
  return new Date(seconds * 1000).toISOString();
}

function days(seconds: number): string {
  const value = seconds / 86_400;
  return Number.isInteger(value) ? `${value} day${value === 1 ? '' : 's'}` : `${seconds} s`;
}
