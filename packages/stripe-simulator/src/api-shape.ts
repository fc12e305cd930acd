import type { ApiShape } from './events';

/**
 * Stripe renders an object fetched from the API in the API version of the request (the
 * `Stripe-Version` header; the SDK sends its pinned one), whatever version the events that
 * carried it were rendered in. Events are not re-rendered: each keeps the version of its
 * creation. These turn a subscription or invoice of one shape into the other, so the fake API
 * answers the way Stripe does.
 */

type Json = Record<string, unknown>;

/** The first version with the period on the items and `invoice.parent` (2025-03-31.basil). */
const BASIL = '2025-03-31';

/** The payload shape of an API version: `legacy` before 2025-03-31, `basil` from it on. */
export function shapeOfVersion(apiVersion: string): ApiShape {
  return apiVersion.slice(0, 10) < BASIL ? 'legacy' : 'basil';
}

function items(subscription: Json): Json[] {
  const list = subscription.items as { data?: Json[] } | undefined;
  return Array.isArray(list?.data) ? list.data : [];
}

/** A subscription object in `shape`; unchanged (a copy) when it already is. */
export function subscriptionInShape(subscription: Json, shape: ApiShape): Json {
  const copy = structuredClone(subscription);
  const data = items(copy);
  if (shape === 'basil' && 'current_period_end' in copy) {
    for (const item of data) {
      item.current_period_start ??= copy.current_period_start;
      item.current_period_end ??= copy.current_period_end;
    }
    for (const key of ['current_period_start', 'current_period_end', 'plan', 'quantity']) delete copy[key];
  } else if (shape === 'legacy' && !('current_period_end' in copy)) {
    const first = data[0];
    if (first) {
      Object.assign(copy, {
        current_period_start: first.current_period_start ?? null,
        current_period_end: first.current_period_end ?? null,
        plan: first.plan ?? null,
        quantity: first.quantity ?? null,
      });
    }
    for (const item of data) {
      delete item.current_period_start;
      delete item.current_period_end;
    }
  }
  return copy;
}

/** An invoice object in `shape`: the subscription link (`subscription` or `parent.subscription_details`) and each line's. */
export function invoiceInShape(invoice: Json, shape: ApiShape): Json {
  const copy = structuredClone(invoice);
  const lines = ((copy.lines as { data?: Json[] } | undefined)?.data ?? []) as Json[];
  if (shape === 'basil' && 'subscription' in copy) {
    const details = (copy.subscription_details as Json | null | undefined) ?? {};
    copy.parent =
      copy.subscription === null
        ? null
        : {
            type: 'subscription_details',
            quote_details: null,
            subscription_details: { metadata: details.metadata ?? {}, subscription: copy.subscription },
          };
    delete copy.subscription;
    delete copy.subscription_details;
    for (const line of lines) {
      if (!('subscription' in line)) continue;
      const price = line.price as Json | null | undefined;
      line.parent = {
        type: 'subscription_item_details',
        subscription_item_details: {
          subscription: line.subscription,
          subscription_item: line.subscription_item ?? null,
          proration: line.proration ?? false,
        },
      };
      line.pricing = price
        ? {
            type: 'price_details',
            price_details: { price: price.id, product: price.product },
            unit_amount_decimal: price.unit_amount_decimal ?? String(price.unit_amount),
          }
        : null;
      for (const key of ['subscription', 'subscription_item', 'price', 'proration']) delete line[key];
    }
  } else if (shape === 'legacy' && 'parent' in copy) {
    const parent = copy.parent as { type?: string; subscription_details?: Json } | null;
    const details = parent?.type === 'subscription_details' ? (parent.subscription_details ?? {}) : undefined;
    copy.subscription = details?.subscription ?? null;
    copy.subscription_details = details ? { metadata: details.metadata ?? {} } : null;
    delete copy.parent;
    for (const line of lines) {
      const lineParent = line.parent as { type?: string; subscription_item_details?: Json } | null | undefined;
      const itemDetails = lineParent?.type === 'subscription_item_details' ? lineParent.subscription_item_details : undefined;
      if (!itemDetails) continue;
      const pricing = line.pricing as { price_details?: Json } | null | undefined;
      Object.assign(line, {
        subscription: itemDetails.subscription,
        subscription_item: itemDetails.subscription_item,
        proration: itemDetails.proration ?? false,
        // The legacy line embeds the whole price; the basil line names it only.
        price: pricing?.price_details ? { id: pricing.price_details.price, object: 'price', product: pricing.price_details.product } : null,
      });
      delete line.parent;
      delete line.pricing;
    }
  }
  return copy;
}

/** `object` rendered for a request in `apiVersion` (subscriptions and invoices change shape; other objects do not). */
export function objectInVersion(object: Json, apiVersion: string): Json {
  const shape = shapeOfVersion(apiVersion);
  if (object.object === 'subscription') return subscriptionInShape(object, shape);
  if (object.object === 'invoice') return invoiceInShape(object, shape);
  return structuredClone(object);
}
