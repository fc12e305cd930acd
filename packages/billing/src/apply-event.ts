import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '@billing/db/client';
import { webhookEvents, type Outcome, type Subscription } from '@billing/db/schema';
import type { BillingConfig } from './config';
import { decide, initialStatus } from './decide';
import { intentOf } from './handlers';
import type { StripeEvent } from './handlers/types';
import type { SubscriptionIntent } from './intent';
import { InvalidEventError } from './invalid-event-error';
import { normalisePeriod } from './normalise';
import { resolveUser, type ResolvedVia } from './resolve-user';
import {
  insertSubscription,
  lockSubscription,
  recordTransition,
  syncUserStatus,
  updateSubscription,
} from './subscription-store';
import type { Transaction } from './transaction';

export interface ApplyOptions {
  /**
   * Fetches the subscription's period end from the Stripe API, for checkout events (which do
   * not carry it). Called before the transaction opens; a failure goes to `onEnrichmentError`
   * and the event still applies.
   */
  fetchPeriodEnd?: (stripeSubscriptionId: string) => Promise<Date | undefined>;
  onEnrichmentError?: (error: unknown, stripeSubscriptionId: string) => void;
}

export interface ApplyResult {
  /** `duplicate`: the ledger already had this event id; nothing was written. */
  outcome: Outcome | 'duplicate';
  stripeSubscriptionId: string | null;
  stripeCustomerId: string | null;
  statusChange?: { from: string | null; to: string };
  userVia?: ResolvedVia;
  /**
   * Set when this event linked its customer id to a user for the first time (found by metadata
   * or email): earlier events of that customer recorded as `unresolved` can now be re-run
   * (`unresolvedEventIds`).
   */
  linkedCustomerId?: string;
}

/**
 * Applies one Stripe event in one transaction:
 * 1. insert the ledger row (`ON CONFLICT DO NOTHING`); no row back → already processed, stop;
 * 2. resolve the user; none → outcome `unresolved`, nothing else written;
 * 3. lock (or insert) the subscription row, so events for one subscription serialise;
 * 4. apply the lifecycle rules (stale, terminal `canceled`, invoice recovery), write a
 *    transition row when the status changes, and make the user's status follow;
 * 5. record the outcome. Any throw rolls all of it back.
 * Throws `InvalidEventError` (before touching the database) for an event not valid for its type.
 */
export async function applyEvent(
  db: Database,
  event: StripeEvent,
  config: BillingConfig,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  if (typeof event.created !== 'number' || !Number.isFinite(event.created)) {
    throw new InvalidEventError(`${event.type}: created is not a number`);
  }
  const intent = intentOf(event, config);
  if (intent.kind === 'subscription' && intent.enrichable && intent.currentPeriodEnd === undefined && options.fetchPeriodEnd) {
    try {
      intent.currentPeriodEnd = await options.fetchPeriodEnd(intent.subscriptionId);
    } catch (error) {
      options.onEnrichmentError?.(error, intent.subscriptionId);
    }
  }
  const ids = { stripeSubscriptionId: intent.subscriptionId, stripeCustomerId: intent.customerId };
  const eventAt = new Date(event.created * 1000);

  return db.transaction(async (tx) => {
    // An `unresolved` row is the one outcome that may be taken again: its user may exist now.
    const [ledger] = await tx
      .insert(webhookEvents)
      .values({ stripeEventId: event.id, eventType: event.type, ...ids, outcome: 'applied' })
      .onConflictDoUpdate({
        target: webhookEvents.stripeEventId,
        set: { outcome: 'applied', processedAt: sql`now()` },
        setWhere: eq(webhookEvents.outcome, 'unresolved'),
      })
      .returning({ id: webhookEvents.id });
    if (!ledger) return { outcome: 'duplicate', ...ids };

    const result: ApplyResult =
      intent.kind === 'ignore' ? { outcome: 'ignored', ...ids } : { ...ids, ...(await applyIntent(tx, intent, event.id, eventAt)) };
    if (result.outcome !== 'applied') {
      await tx.update(webhookEvents).set({ outcome: result.outcome as Outcome }).where(eq(webhookEvents.id, ledger.id));
    }
    return result;
  });
}

async function applyIntent(
  tx: Transaction,
  intent: SubscriptionIntent,
  stripeEventId: string,
  eventAt: Date,
): Promise<Pick<ApplyResult, 'outcome' | 'statusChange' | 'userVia' | 'linkedCustomerId'>> {
  const user = await resolveUser(tx, intent.user, intent.subscriptionId);
  if (!user) return { outcome: 'unresolved' };
  const linked = (user.via === 'metadata' || user.via === 'email') && intent.customerId ? { linkedCustomerId: intent.customerId } : {};
  const transition = (from: string | null, to: string) =>
    recordTransition(tx, { stripeSubscriptionId: intent.subscriptionId, fromStatus: from, toStatus: to, stripeEventId, eventCreatedAt: eventAt });

  let row = await lockSubscription(tx, intent.subscriptionId);
  if (!row) {
    const status = initialStatus(intent.status);
    const inserted = await insertSubscription(tx, {
      userId: user.id,
      stripeCustomerId: intent.customerId,
      stripeSubscriptionId: intent.subscriptionId,
      planSlug: intent.planSlug ?? 'unknown',
      period: intent.period ?? normalisePeriod(undefined, intent.interval),
      status,
      currentPeriodEnd: intent.currentPeriodEnd ?? null,
      lastEventAt: eventAt,
    });
    if (inserted) {
      await transition(null, status);
      await syncUserStatus(tx, user.id, status);
      return { outcome: 'applied', statusChange: { from: null, to: status }, userVia: user.via, ...linked };
    }
    // A concurrent transaction inserted it first; its row is committed and visible now.
    row = await lockSubscription(tx, intent.subscriptionId);
    if (!row) throw new Error(`subscription ${intent.subscriptionId} vanished during insert`);
  }

  const decision = decide(row, intent.status, eventAt);
  const patch = decision.fresh ? freshPatch(row, intent, decision.status, eventAt) : stalePatch(row, intent);
  if (row.userId === null) patch.userId = user.id;
  if (row.stripeCustomerId === null && intent.customerId) patch.stripeCustomerId = intent.customerId;
  if (Object.keys(patch).length > 0) await updateSubscription(tx, row.id, patch);

  if (decision.outcome !== 'applied') return { outcome: decision.outcome, userVia: user.via, ...linked };
  await syncUserStatus(tx, user.id, decision.status);
  if (decision.status === row.status) return { outcome: 'applied', userVia: user.via, ...linked };
  await transition(row.status, decision.status);
  return { outcome: 'applied', statusChange: { from: row.status, to: decision.status }, userVia: user.via, ...linked };
}

type Patch = Partial<Omit<Subscription, 'id' | 'createdAt'>>;

/** A new-enough event: status by the rules, the fields it carries, `last_event_at` forward, `updated_at` touched. */
function freshPatch(row: Subscription, intent: SubscriptionIntent, status: string, eventAt: Date): Patch {
  const patch: Patch = { updatedAt: new Date() };
  if (status !== row.status) patch.status = status;
  if (intent.currentPeriodEnd !== undefined && intent.currentPeriodEnd?.getTime() !== row.currentPeriodEnd?.getTime()) {
    patch.currentPeriodEnd = intent.currentPeriodEnd;
  }
  if (intent.planSlug !== undefined && intent.planSlug !== row.planSlug) patch.planSlug = intent.planSlug;
  if (intent.period !== undefined && intent.period !== row.period) patch.period = intent.period;
  if (!row.lastEventAt || eventAt > row.lastEventAt) patch.lastEventAt = eventAt;
  return patch;
}

/** A stale event changes no status; it only fills what the row does not know yet (order-independent facts). */
function stalePatch(row: Subscription, intent: SubscriptionIntent): Patch {
  const patch: Patch = {};
  if (row.currentPeriodEnd === null && intent.currentPeriodEnd) patch.currentPeriodEnd = intent.currentPeriodEnd;
  if (row.planSlug === 'unknown' && intent.planSlug && intent.planSlug !== 'unknown') patch.planSlug = intent.planSlug;
  return patch;
}

/** Ids of this customer's events recorded as `unresolved`, oldest first, to re-run once a user is linked. */
export async function unresolvedEventIds(db: Database, stripeCustomerId: string): Promise<string[]> {
  const rows = await db
    .select({ id: webhookEvents.stripeEventId })
    .from(webhookEvents)
    .where(and(eq(webhookEvents.stripeCustomerId, stripeCustomerId), eq(webhookEvents.outcome, 'unresolved')))
    .orderBy(webhookEvents.id);
  return rows.map((r) => r.id);
}
