import type { Sql } from 'postgres';
import type { AccessReason } from './notification';

/** The host's one question: may this user in, on which plan, and why. */
export interface Access {
  hasAccess: boolean;
  /** Null without access. */
  planSlug: string | null;
  reason: AccessReason;
  /** When it ends by the clock alone (grace end, trial end, scheduled cancellation), or null. */
  accessUntil: Date | null;
  /** Active feature lookup keys. */
  entitlements: string[];
  /** False when Stripe said there were more features than were stored. */
  entitlementsComplete: boolean;
}

/** A user with no row (never subscribed): no access. */
export const NO_ACCESS: Access = {
  hasAccess: false,
  planSlug: null,
  reason: 'none',
  accessUntil: null,
  entitlements: [],
  entitlementsComplete: true,
};

interface AccessRow {
  has_access: boolean;
  plan_slug: string | null;
  reason: AccessReason;
  access_until: Date | string | null;
  entitlements: string[] | null;
  entitlements_complete: boolean;
}

/**
 * Reads the user's access decision from `billing_access` (kept by the billing worker) with a
 * postgres-js client on the billing database. The SQL, for hosts in other languages:
 * `select has_access, plan_slug, reason, access_until, entitlements, entitlements_complete from billing_access where user_id = $1`
 */
export async function getAccess(sql: Sql, userId: number): Promise<Access> {
  if (!Number.isSafeInteger(userId)) throw new TypeError(`getAccess: userId must be an integer, got ${String(userId)}`);
  const [row] = await sql<AccessRow[]>`
    select has_access, plan_slug, reason, access_until, entitlements, entitlements_complete
    from billing_access where user_id = ${userId}`;
  if (!row) return NO_ACCESS;
  return {
    hasAccess: row.has_access,
    planSlug: row.plan_slug,
    reason: row.reason,
    accessUntil: row.access_until === null ? null : new Date(row.access_until),
    entitlements: row.entitlements ?? [],
    entitlementsComplete: row.entitlements_complete,
  };
}
