import { applyEvents, type ApplyOptions, type BillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import type { StripeEvent } from '@billing/queue';
import type { Repaired } from './run-store';

/** The ledger's type of a repair: a subscription snapshot, as the lifecycle rules read `customer.subscription.updated`. */
export const REPAIR_EVENT_TYPE = 'customer.subscription.updated';

/** Ids of repair events start so (`explain` and the ledger tell them from Stripe's). */
export const REPAIR_EVENT_PREFIX = 'evt_reconcile';

/**
 * A subscription fetched from the Stripe API as the event the worker applies: a snapshot taken
 * at `fetchedAt` (Unix seconds, read before the request was sent), with no
 * `previous_attributes`. The id is derived from the subscription and the second, so the same
 * fetch applied twice (a resumed run) is a duplicate in the ledger, never a second repair.
 */
export function repairEvent(subscription: Record<string, unknown>, fetchedAt: number): StripeEvent {
  const id = String(subscription.id);
  return {
    id: `${REPAIR_EVENT_PREFIX}${fetchedAt}${id.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 255),
    object: 'event',
    type: REPAIR_EVENT_TYPE,
    created: fetchedAt,
    livemode: subscription.livemode === true,
    data: { object: subscription },
  };
}

/**
 * Applies fetched subscriptions through `applyEvents` — the lifecycle rules, the ledger, the
 * transitions and the outbox, as any event — in one batch. Never a raw overwrite: a rule that
 * refuses the snapshot (a terminal row) leaves the row, and the next run reports it again.
 */
export async function repairSubscriptions(
  connection: Sql,
  fetched: ReadonlyArray<{ object: Record<string, unknown>; fetchedAt: number }>,
  config: BillingConfig,
  options: ApplyOptions = {},
): Promise<Repaired[]> {
  if (fetched.length === 0) return [];
  const events = fetched.map((f) => repairEvent(f.object, f.fetchedAt));
  const { results } = await applyEvents(connection, events, config, options);
  return results.map((result, i) => {
    const subscriptionId = String(fetched[i]!.object.id);
    if (result instanceof Error) throw new Error(`reconcile: repairing ${subscriptionId} failed: ${result.message}`, { cause: result });
    return {
      subscriptionId,
      eventId: events[i]!.id,
      outcome: result.outcome,
      ...('statusChange' in result && result.statusChange ? { statusChange: result.statusChange } : {}),
    };
  });
}
