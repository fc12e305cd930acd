import type { StripeEvent } from '@billing/queue';

/**
 * What of a verified event goes into Redis: what the worker reads, nothing else. Stripe's
 * payloads carry names, phones, postal addresses and payment details (also in events nobody
 * handles) that would otherwise sit in Redis, its AOF file and the dashboard for days. An
 * allowlist per object kind, so a field Stripe adds is left out until it is needed. The lifecycle
 * rules read nothing else (`minimise-event.test.ts` checks it against the corpus), so the list
 * lives with them.
 *
 * Every kept string (keys too) has its NUL characters (U+0000) replaced with U+FFFD: the queue's
 * Postgres backend stores job data as `jsonb`, which refuses `\u0000` (22P05), and so would the
 * ledger's columns.
 */

type Json = Record<string, unknown>;
type Shape = { [key: string]: true | Shape | [Shape] };

/** An id that may come expanded (`{ id, … }`): only its id is kept. */
const ID: Shape = { id: true };

const PRICE: Shape = {
  id: true,
  object: true,
  lookup_key: true,
  metadata: true,
  recurring: { interval: true, interval_count: true },
  product: ID,
};
const ITEMS: Shape = {
  object: true,
  data: [
    {
      id: true,
      object: true,
      price: PRICE,
      plan: { id: true, interval: true },
      current_period_start: true,
      current_period_end: true,
      quantity: true,
    },
  ],
};

/** The subscription's fields the lifecycle reads, for its object and its `previous_attributes`. */
const SUBSCRIPTION: Shape = {
  id: true,
  object: true,
  customer: ID,
  status: true,
  items: ITEMS,
  plan: { id: true, interval: true },
  current_period_start: true,
  current_period_end: true,
  cancel_at: true,
  cancel_at_period_end: true,
  canceled_at: true,
  ended_at: true,
  trial_start: true,
  trial_end: true,
  metadata: true,
  created: true,
  latest_invoice: ID,
  pause_collection: true,
};

const SHAPES: Record<string, Shape> = {
  subscription: SUBSCRIPTION,
  invoice: {
    id: true,
    object: true,
    customer: ID,
    subscription: ID,
    subscription_details: { metadata: true },
    parent: { type: true, subscription_details: { subscription: ID, metadata: true } },
    billing_reason: true,
    status: true,
  },
  // The emails are what a checkout's user is found by; nothing else of the customer is kept.
  'checkout.session': {
    id: true,
    object: true,
    mode: true,
    customer: ID,
    subscription: ID,
    customer_email: true,
    customer_details: { email: true },
    metadata: true,
    payment_status: true,
    status: true,
  },
  // A customer's active features: the lookup keys and whether the list goes on (no id of its own).
  'entitlements.active_entitlement_summary': {
    object: true,
    customer: ID,
    livemode: true,
    entitlements: { object: true, has_more: true, data: [{ id: true, object: true, lookup_key: true, feature: ID }] },
  },
};

/** Of an object nobody reads, only what the ledger records: its id and kind, its customer and subscription. */
const OTHER: Shape = { id: true, object: true, customer: ID, subscription: ID };

export function minimiseEvent(event: StripeEvent): StripeEvent {
  return withoutNul(allowedFields(event)) as StripeEvent;
}

function allowedFields(event: StripeEvent): StripeEvent {
  const kind = typeof event.data.object.object === 'string' ? event.data.object.object : '';
  const shape = SHAPES[kind] ?? OTHER;
  const data: StripeEvent['data'] = { object: pick(event.data.object, shape) as Json };
  if (event.data.previous_attributes !== undefined && shape === SUBSCRIPTION) {
    data.previous_attributes = pick(event.data.previous_attributes, SUBSCRIPTION) as Json;
  }
  return {
    id: event.id,
    object: 'event',
    type: event.type,
    created: event.created,
    ...(event.api_version !== undefined && { api_version: event.api_version }),
    ...(event.livemode !== undefined && { livemode: event.livemode }),
    data,
  };
}

function pick(value: unknown, shape: Shape): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const result: Json = {};
  for (const [key, rule] of Object.entries(shape)) {
    if (!(key in value)) continue;
    const field = (value as Json)[key];
    if (rule === true) result[key] = field;
    else if (Array.isArray(rule)) result[key] = Array.isArray(field) ? field.map((item) => pick(item, rule[0])) : field;
    else result[key] = typeof field === 'object' && field !== null && !Array.isArray(field) ? pick(field, rule) : field;
  }
  return result;
}

const NUL = '\u0000';
const REPLACEMENT = '\uFFFD';

/** The value with U+0000 replaced by U+FFFD in every string and key. */
function withoutNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll(NUL, REPLACEMENT);
  if (Array.isArray(value)) return value.map(withoutNul);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key.replaceAll(NUL, REPLACEMENT), withoutNul(field)]));
}
