import type { Sql } from '@billing/db/client';
import { isErasedCustomer } from './erased-customers';

/**
 * The sweep's query: `unresolved` ledger rows whose user can be found now, oldest first (rows
 * without a time first), one page after a cursor. Its condition is the SQL twin of
 * `isResolvable` (reduce-events.ts): the row's customer bound to a user, or — unless the customer
 * was erased — its subscription's row linked to one.
 */
export const RESOLVABLE_CONDITION = `(
  exists (select 1 from users u where u.stripe_customer_id = w.stripe_customer_id)
  or (exists (select 1 from subscriptions s where s.stripe_subscription_id = w.stripe_subscription_id and s.user_id is not null)
    and not (w.stripe_customer_id is not null and ${isErasedCustomer('w.stripe_customer_id')})))`;

/** Where a page ends: the row's time (`-infinity` for none) as Postgres prints it, and its ledger id. */
export interface SweepCursor {
  at: string;
  id: string;
}

export const SWEEP_START: SweepCursor = { at: '-infinity', id: '0' };

export interface ResolvableRow {
  eventId: string;
  customerId: string | null;
  subscriptionId: string | null;
  /** The ledger kept the normalised event; without it only the event's job can bring it back. */
  hasEvent: boolean;
}

/**
 * One page of resolvable rows after `after`, and the cursor after its last row (`undefined`: no
 * more). Paging by position rather than by what is still `unresolved`: rows that stay so (no
 * stored event) never fill the page again.
 */
export async function resolvableUnresolvedPage(
  connection: Sql,
  after: SweepCursor,
  limit: number,
): Promise<{ rows: ResolvableRow[]; next: SweepCursor | undefined }> {
  const rows = await connection.unsafe<
    Array<{ event_id: string; customer: string | null; subscription: string | null; has_event: boolean; at: string; id: string }>
  >(
    `select w.stripe_event_id as event_id, w.stripe_customer_id as customer, w.stripe_subscription_id as subscription,
       w.unresolved_input is not null as has_event, coalesce(w.event_created_at, '-infinity')::text as at, w.id::text as id
     from webhook_events w
     where w.outcome = 'unresolved' and ${RESOLVABLE_CONDITION}
       and (coalesce(w.event_created_at, '-infinity'), w.id) > ($1::text::timestamptz, $2::text::bigint)
     order by coalesce(w.event_created_at, '-infinity'), w.id
     limit $3`,
    [after.at, after.id, limit],
  );
  const last = rows.at(-1);
  return {
    rows: rows.map((r) => ({ eventId: r.event_id, customerId: r.customer, subscriptionId: r.subscription, hasEvent: r.has_event })),
    next: last && rows.length === limit ? { at: last.at, id: last.id } : undefined,
  };
}
