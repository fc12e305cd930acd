import type { EntitlementsEvent, FetchedEntitlements, Seconds } from './lifecycle-input';

/**
 * A customer's active entitlements (`customer_entitlements`): the newest summary wins, whatever the
 * arrival order. A summary is a snapshot at its event's `created` second; the list fetched from the
 * API for a summary that said `has_more` is a snapshot at the moment the request was sent.
 */

export interface CustomerEntitlementsState {
  customerId: string;
  /** Sorted, without repeats. */
  lookupKeys: string[];
  /** When the snapshot was taken (`summary_at`). */
  summaryAt: Seconds;
  eventId: string;
  /** False when the summary said `has_more` and the rest was not fetched. */
  complete: boolean;
}

export type EntitlementsOutcome = 'applied' | 'stale';

/**
 * The summary an event stores and whether it replaces the stored one:
 * - `has_more` with the rest fetched: the fetched list, complete, dated at the fetch;
 * - `has_more` without it (no `STRIPE_SECRET_KEY`, or the fetch failed): the first page, incomplete;
 * - else the summary as it came.
 * It replaces the stored one when newer (`isNewer`); an older one is `stale` and changes nothing.
 */
export function entitlementsStep(
  stored: CustomerEntitlementsState | undefined,
  event: EntitlementsEvent,
  fetched: FetchedEntitlements | undefined,
): { outcome: EntitlementsOutcome; state: CustomerEntitlementsState | undefined } {
  const incoming: CustomerEntitlementsState =
    event.hasMore && fetched
      ? {
          customerId: event.customerId,
          lookupKeys: fetched.lookupKeys,
          summaryAt: Math.max(fetched.at, event.created),
          eventId: event.id,
          complete: true,
        }
      : {
          customerId: event.customerId,
          lookupKeys: event.lookupKeys,
          summaryAt: event.created,
          eventId: event.id,
          complete: !event.hasMore,
        };
  if (stored && !isNewer(incoming, stored)) return { outcome: sameSummary(incoming, stored) ? 'applied' : 'stale', state: undefined };
  return { outcome: 'applied', state: incoming };
}

/**
 * Whether `a` replaces `b`: a later second wins. Within one second summaries carry nothing that
 * orders them (no `previous_attributes`), so the order is fixed by their content, never by arrival:
 * the complete one, then the one with more features, then the first in sorted order of their keys.
 * The customer keeps the fuller set until a newer summary says otherwise.
 */
export function isNewer(a: CustomerEntitlementsState, b: CustomerEntitlementsState): boolean {
  if (a.summaryAt !== b.summaryAt) return a.summaryAt > b.summaryAt;
  if (a.complete !== b.complete) return a.complete;
  if (a.lookupKeys.length !== b.lookupKeys.length) return a.lookupKeys.length > b.lookupKeys.length;
  const [x, y] = [a.lookupKeys.join('\u0000'), b.lookupKeys.join('\u0000')];
  return x < y;
}

function sameSummary(a: CustomerEntitlementsState, b: CustomerEntitlementsState): boolean {
  return a.summaryAt === b.summaryAt && a.complete === b.complete && a.lookupKeys.join('\u0000') === b.lookupKeys.join('\u0000');
}
