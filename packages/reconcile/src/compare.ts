import { mostFavourable } from '@billing/billing';
import type { Drift, DriftClass, RemoteSubscription, SkippedDrift, StoredSubscription, StoredUser } from './drift';
import { pendingReason, type PendingWork } from './pending-work';

/** What the user comparison reads of Stripe's object. */
export type RemoteStatus = Pick<RemoteSubscription, 'subscriptionId' | 'customerId' | 'status'>;

export interface Comparison {
  drifts: Drift[];
  /** Differences explained by events still queued: not drift, listed with the reason. */
  skipped: SkippedDrift[];
}

/**
 * The subscriptions Stripe was asked about, compared with our rows, field by field. `remote` maps
 * each subscription id looked at to Stripe's object, or `null` when Stripe does not know it; rows
 * of ids not in `remote` are out of scope. Pure: no I/O.
 */
export function compareSubscriptions(
  stored: ReadonlyMap<string, StoredSubscription>,
  remote: ReadonlyMap<string, RemoteSubscription | null>,
  pending: PendingWork,
): Comparison {
  const found: Drift[] = [];
  for (const [id, theirs] of remote) {
    const ours = stored.get(id);
    if (!ours && !theirs) continue;
    if (!ours) {
      found.push(drift(theirs!, null, 'missing_local', null, theirs!.status));
      continue;
    }
    if (!theirs) {
      found.push(drift(ours, ours, 'missing_remote', ours.status, null));
      continue;
    }
    found.push(...fieldDrifts(ours, theirs));
  }
  return split(found.map(candidate), pending);
}

/** Each class a stored row differs from Stripe's object in (none when they agree). */
export function fieldDrifts(ours: StoredSubscription, theirs: RemoteSubscription): Drift[] {
  const drifts: Drift[] = [];
  const add = (cls: DriftClass, a: string | null, b: string | null) => {
    if (a !== b) drifts.push(drift(ours, ours, cls, a, b));
  };
  add('status', ours.status, theirs.status);
  add('period', time(ours.currentPeriodEnd), time(theirs.currentPeriodEnd));
  add('price_plan', pricePlan(ours), pricePlan(theirs));
  add('cancellation', time(ours.cancelAt), time(theirs.cancelAt));
  add('trial', time(ours.trialEnd), time(theirs.trialEnd));
  if (theirs.customerId !== null) add('user_status', `customer ${ours.customerId ?? '—'}`, `customer ${theirs.customerId}`);
  return drifts;
}

/**
 * Each user's derived status against the most favourable of Stripe's statuses of their
 * subscriptions (ours where Stripe was not asked, or does not know the subscription), counting
 * Stripe's subscriptions of the user's customer we have no row of. The drift names the
 * subscription whose status the user's should be.
 */
export function compareUsers(
  users: readonly StoredUser[],
  stored: ReadonlyMap<string, StoredSubscription>,
  remote: ReadonlyMap<string, RemoteStatus | null>,
  pending: PendingWork,
): Comparison {
  const byUser = new Map<number, Map<string, string>>();
  const userOfCustomer = new Map(users.filter((u) => u.customerId !== null).map((u) => [u.customerId!, u.userId]));
  for (const row of stored.values()) {
    if (row.userId === null) continue;
    const statuses = byUser.get(row.userId) ?? new Map<string, string>();
    statuses.set(row.subscriptionId, remote.get(row.subscriptionId)?.status ?? row.status);
    byUser.set(row.userId, statuses);
  }
  for (const theirs of remote.values()) {
    if (!theirs || stored.has(theirs.subscriptionId) || theirs.customerId === null) continue;
    const userId = userOfCustomer.get(theirs.customerId);
    if (userId === undefined) continue;
    const statuses = byUser.get(userId) ?? new Map<string, string>();
    statuses.set(theirs.subscriptionId, theirs.status);
    byUser.set(userId, statuses);
  }
  const found: Candidate[] = [];
  for (const user of users) {
    const statuses = byUser.get(user.userId);
    if (!statuses) continue;
    const want = mostFavourable(statuses.values());
    if (want === user.status) continue;
    const decidingId = [...statuses].find(([, s]) => s === want)?.[0] ?? [...statuses.keys()][0]!;
    const row = stored.get(decidingId);
    const drift: Drift = {
      subscriptionId: decidingId,
      customerId: row?.customerId ?? user.customerId,
      userId: user.userId,
      class: 'user_status',
      ours: `user ${user.userId} ${user.status ?? '—'}`,
      stripe: `user ${user.userId} ${want ?? '—'}`,
      lastEventAt: row?.lastEventAt ?? null,
    };
    // An event queued for any of the user's subscriptions, or their customer, explains it.
    found.push({ drift, subscriptions: [...statuses.keys()], customers: [user.customerId, drift.customerId] });
  }
  return split(found, pending);
}

/** A difference and what pending work would explain it. */
interface Candidate {
  drift: Drift;
  subscriptions: string[];
  customers: Array<string | null>;
}

const candidate = (drift: Drift): Candidate => ({ drift, subscriptions: [drift.subscriptionId], customers: [drift.customerId] });

function split(found: Candidate[], pending: PendingWork): Comparison {
  const result: Comparison = { drifts: [], skipped: [] };
  for (const { drift, subscriptions, customers } of found) {
    const reason = pendingReason(pending, subscriptions, customers);
    if (reason) result.skipped.push({ ...drift, reason });
    else result.drifts.push(drift);
  }
  return result;
}

function drift(
  ids: { subscriptionId: string; customerId: string | null },
  ours: StoredSubscription | null,
  cls: DriftClass,
  a: string | null,
  b: string | null,
): Drift {
  return {
    subscriptionId: ids.subscriptionId,
    customerId: ours?.customerId ?? ids.customerId,
    userId: ours?.userId ?? null,
    class: cls,
    ours: a,
    stripe: b,
    lastEventAt: ours?.lastEventAt ?? null,
  };
}

function time(seconds: number | null): string | null {
  return seconds === null ? null : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

function pricePlan(facts: { priceId: string | null; planSlug: string; period: string }): string {
  return `${facts.priceId ?? '—'} ${facts.planSlug}/${facts.period}`;
}
