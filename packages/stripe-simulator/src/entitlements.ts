import { createHash } from 'node:crypto';

/** Stripe's Entitlements objects: a customer's active features, by lookup key. */

/** Stable per customer and lookup key, so paging and re-seeding give the same ids. */
function stableId(prefix: string, ...parts: string[]): string {
  return `${prefix}_test_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 24)}`;
}

/** An `entitlements.active_entitlement` (what `GET /v1/entitlements/active_entitlements` lists). */
export function activeEntitlementObject(customer: string, lookupKey: string): Record<string, unknown> {
  return {
    id: stableId('ent', customer, lookupKey),
    object: 'entitlements.active_entitlement',
    feature: stableId('feat', lookupKey),
    livemode: false,
    lookup_key: lookupKey,
  };
}

/**
 * The `data.object` of an `entitlements.active_entitlement_summary.updated` event: the customer's
 * active entitlements, of which the event carries only the first page (`has_more` says there are
 * more, to be listed from the API).
 *
 * @param pageSize - how many the summary embeds. @defaultValue 10
 */
export function activeEntitlementSummaryObject(customer: string, lookupKeys: readonly string[], pageSize = 10): Record<string, unknown> {
  return {
    object: 'entitlements.active_entitlement_summary',
    customer,
    entitlements: {
      object: 'list',
      data: lookupKeys.slice(0, pageSize).map((key) => activeEntitlementObject(customer, key)),
      has_more: lookupKeys.length > pageSize,
      url: `/v1/customer/${customer}/entitlements`,
    },
    livemode: false,
  };
}
