import type { ChangedFrom, Hint, Seconds, Snapshot, SubscriptionFacts } from './lifecycle-input';
import { isTerminal, lifecycleRank } from './statuses';

/**
 * docs/design.md "Lifecycle rules" for one subscription, as one pure function: the stored row and one
 * input (a snapshot or a hint, at its `created` second) → the new row and the ledger outcome.
 * The promise it keeps: once every event of a subscription's history has been applied, in any
 * order and with any duplicates, the row equals Stripe's newest subscription object.
 */

/** A subscription row as the rules read and write it (the `subscriptions` table). */
export interface SubscriptionState {
  subscriptionId: string;
  customerId: string | null;
  userId: number | null;
  status: string;
  facts: SubscriptionFacts;
  /** `created` of the event that set the status, and the status it said it changed from. */
  statusAt: Seconds | null;
  statusFrom: string | null;
  /**
   * When the status took its current value: the `statusAt` of the input that changed it (an input
   * saying the same status again moves `statusAt`, not this). `null` on rows written before it was kept.
   */
  statusSince: Seconds | null;
  /** The newest snapshot applied: its second, its own status and what it said it changed from. `null`: none yet (status provisional). */
  snapshotAt: Seconds | null;
  snapshotStatus: string | null;
  snapshotFrom: ChangedFrom | null;
  /** `created` of the newest event applied. */
  lastEventAt: Seconds | null;
}

export type StepOutcome = 'applied' | 'stale' | 'ignored';

export interface Step {
  state: SubscriptionState;
  outcome: StepOutcome;
}

export interface NewRow {
  subscriptionId: string;
  customerId: string | null;
  userId: number | null;
}

/** Applies one input, at its `created` second, to the row (`undefined`: the subscription is new). */
export function applyInput(row: SubscriptionState | undefined, input: Snapshot | Hint, at: Seconds, ids: NewRow): Step {
  if (!row) return { state: newRow(input, at, ids), outcome: 'applied' };
  return input.kind === 'snapshot' ? applySnapshot(row, input, at) : applyHint(row, input, at);
}

/**
 * Snapshots. A snapshot newer than every snapshot already applied sets the facts it carries, and
 * its status too unless a newer hint has set the status since; the first snapshot replaces a
 * provisional status whatever its time. An older snapshot is `stale`: it only fills a null
 * period end.
 */
function applySnapshot(row: SubscriptionState, snapshot: Snapshot, at: Seconds): Step {
  const first = row.snapshotAt === null;
  if (!first && !snapshotIsNewer(row, snapshot, at)) return { state: fillPeriodEnd(row, snapshot.facts), outcome: 'stale' };
  if (isTerminal(row.status) && !isTerminal(snapshot.status)) return { state: row, outcome: 'ignored' };
  const next: SubscriptionState = {
    ...row,
    facts: snapshot.facts,
    snapshotAt: at,
    snapshotStatus: snapshot.status,
    snapshotFrom: sameSnapshot(row, snapshot, at) ? { ...snapshot.from, ...row.snapshotFrom } : snapshot.from,
    lastEventAt: latest(row.lastEventAt, at),
  };
  const setsStatus = first || statusIsNewer(row, { status: snapshot.status, from: snapshot.from.status ?? null }, at);
  return {
    state: setsStatus ? withStatus(next, snapshot.status, at, snapshot.from.status ?? null, first) : next,
    outcome: 'applied',
  };
}

/**
 * Hints. A hint sets the status only when it changes it and is newer than whatever set the
 * status before it; it never sets period end, price, plan or cancellation (checkout's metadata
 * plan only fills a row that knows no price yet). Nothing leaves a terminal status.
 */
function applyHint(row: SubscriptionState, hint: Hint, at: Seconds): Step {
  if (isTerminal(row.status)) return { state: row, outcome: 'ignored' };
  const facts = hint.hint === 'checkout' && row.facts.priceId === null ? withMetadataPlan(row.facts, hint.plan) : row.facts;
  const target = impliedStatus(hint, row);
  if (target === undefined || target === row.status) {
    // A hint that changes nothing sets nothing, not even the time of the status.
    return { state: { ...row, facts, lastEventAt: latest(row.lastEventAt, at) }, outcome: 'applied' };
  }
  // Only a paid invoice says what it changed from (`past_due`, the one status it moves).
  const from = hint.hint === 'paid' ? 'past_due' : null;
  if (!statusIsNewer(row, { status: target, from }, at)) return { state: { ...row, facts }, outcome: 'stale' };
  return { state: withStatus({ ...row, facts, lastEventAt: latest(row.lastEventAt, at) }, target, at, from), outcome: 'applied' };
}

/**
 * What a hint implies for the row's current status; `undefined`: nothing.
 * - `invoice.payment_failed` → `past_due`, from `active` or `trialing` only, and never for the
 *   subscription's first invoice: Stripe keeps a subscription whose first invoice fails
 *   `incomplete`, and leaves `unpaid`/`paused` as they are.
 * - `invoice.paid`/`payment_succeeded` → a `past_due` subscription becomes `active`.
 * - `checkout.session.completed` → `active`, provisionally: only until the first snapshot, so a
 *   trial started through checkout ends `trialing`.
 */
function impliedStatus(hint: Hint, row: SubscriptionState): string | undefined {
  switch (hint.hint) {
    case 'payment_failed':
      return !hint.firstInvoice && (row.status === 'active' || row.status === 'trialing') ? 'past_due' : undefined;
    case 'paid':
      return row.status === 'past_due' ? 'active' : undefined;
    case 'checkout':
      return row.snapshotAt === null ? 'active' : undefined;
  }
}

/** A row the subscription's first event creates: a snapshot's facts, or a hint's provisional status. */
function newRow(input: Snapshot | Hint, at: Seconds, ids: NewRow): SubscriptionState {
  const base = { ...ids, lastEventAt: at, statusAt: at, statusSince: at };
  if (input.kind === 'snapshot') {
    return {
      ...base,
      status: input.status,
      statusFrom: input.from.status ?? null,
      facts: input.facts,
      snapshotAt: at,
      snapshotStatus: input.status,
      snapshotFrom: input.from,
    };
  }
  const unknown: SubscriptionFacts = {
    currentPeriodEnd: null,
    priceId: null,
    planSlug: 'unknown',
    period: 'monthly',
    cancelAt: null,
    trialEnd: null,
  };
  const provisional = input.hint === 'payment_failed' ? (input.firstInvoice ? 'incomplete' : 'past_due') : 'active';
  return {
    ...base,
    status: provisional,
    statusFrom: null,
    facts: withMetadataPlan(unknown, input.plan),
    snapshotAt: null,
    snapshotStatus: null,
    snapshotFrom: null,
  };
}

/**
 * Same second: the event later in Stripe's history wins, whatever the arrival order. An event
 * that says it changed *from* what the other one says is the later one; otherwise the status
 * further along the lifecycle wins; events that say the same thing keep arrival order.
 */
type Order = 'later' | 'earlier' | 'same';

interface StatusClaim {
  status: string;
  from: string | null;
}

/** Whether a status claimed at `at` is newer than the one the row holds. */
function statusIsNewer(row: SubscriptionState, claim: StatusClaim, at: Seconds): boolean {
  if (row.statusAt === null || at !== row.statusAt) return row.statusAt === null || at > row.statusAt;
  return sameSecondStatusOrder(claim, { status: row.status, from: row.statusFrom }) !== 'earlier';
}

function sameSecondStatusOrder(a: StatusClaim, b: StatusClaim): Order {
  if (a.status === b.status) return 'same';
  if (a.from === b.status) return 'later';
  if (b.from === a.status) return 'earlier';
  return byLifecycle(a.status, b.status);
}

/** Whether a snapshot at `at` is newer than the newest one applied (the row's facts and watermark). */
function snapshotIsNewer(row: SubscriptionState, snapshot: Snapshot, at: Seconds): boolean {
  const appliedAt = row.snapshotAt as Seconds;
  if (at !== appliedAt) return at > appliedAt;
  const stored = { status: row.snapshotStatus ?? row.status, facts: row.facts, from: row.snapshotFrom ?? {} };
  const incomingFollows = changedFrom(snapshot.from, stored);
  const storedFollows = changedFrom(stored.from, snapshot);
  if (incomingFollows !== storedFollows) return incomingFollows;
  return byLifecycle(snapshot.status, stored.status) !== 'earlier';
}

/**
 * The same second and the same content (a companion event: `…paused` beside its `…updated`):
 * the same state of the subscription, so what either said it changed from stays known.
 */
function sameSnapshot(row: SubscriptionState, snapshot: Snapshot, at: Seconds): boolean {
  return (
    row.snapshotAt === at &&
    row.snapshotStatus === snapshot.status &&
    (Object.keys(snapshot.facts) as Array<keyof SubscriptionFacts>).every((key) => row.facts[key] === snapshot.facts[key])
  );
}

/** Whether `from` names, for some status or fact, exactly the value `other` holds: "changed from the other". */
function changedFrom(from: ChangedFrom, other: { status: string; facts: SubscriptionFacts }): boolean {
  return (Object.keys(from) as Array<keyof ChangedFrom>).some((key) =>
    key === 'status' ? from.status === other.status : from[key] === other.facts[key],
  );
}

function byLifecycle(a: string, b: string): Order {
  const difference = lifecycleRank(a) - lifecycleRank(b);
  return difference > 0 ? 'later' : difference < 0 ? 'earlier' : 'same';
}

/** `restart`: the status dates from `at` even if it is the same (the first snapshot replacing a provisional one). */
function withStatus(row: SubscriptionState, status: string, at: Seconds, from: string | null, restart = false): SubscriptionState {
  const statusSince = restart || status !== row.status ? at : (row.statusSince ?? row.statusAt ?? at);
  return { ...row, status, statusAt: at, statusFrom: from === status ? null : from, statusSince };
}

/**
 * A stale snapshot may only fill a null period end. Price, plan and period come from the newest
 * snapshot's price: a plan `unknown` because that price names no catalog plan is known, not
 * missing, and a row without a price (kept from before prices were stored) gets one from the next
 * newer snapshot, or from reconcile — never from an older object, whose plan may be another.
 */
function fillPeriodEnd(row: SubscriptionState, facts: SubscriptionFacts): SubscriptionState {
  if (row.facts.currentPeriodEnd !== null || facts.currentPeriodEnd === null) return row;
  return { ...row, facts: { ...row.facts, currentPeriodEnd: facts.currentPeriodEnd } };
}

function withMetadataPlan(facts: SubscriptionFacts, plan: Hint['plan']): SubscriptionFacts {
  return {
    ...facts,
    ...(plan.planSlug !== undefined && { planSlug: plan.planSlug }),
    ...(plan.period !== undefined && { period: plan.period }),
  };
}

function latest(a: Seconds | null, b: Seconds): Seconds {
  return a === null || b > a ? b : a;
}
