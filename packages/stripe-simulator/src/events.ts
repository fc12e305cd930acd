import { createHmac, randomBytes } from 'node:crypto';
import type { StripeEvent } from '@billing/queue';

/**
 * Real-shaped Stripe events for tests, the demo and the benchmarks, in both API shapes:
 * `legacy` (≤ 2025-02-24.acacia: `subscription.current_period_end`, `invoice.subscription`) and
 * `basil` (2025-03-31 and later: period on the items, `invoice.parent.subscription_details`).
 */
export type ApiShape = 'legacy' | 'basil';

export const API_VERSIONS: Record<ApiShape, string> = {
  legacy: '2024-06-20',
  basil: '2026-10-28.endive',
};

export type { StripeEvent };

export function stripeId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url').replace(/[-_]/g, 'x')}`;
}

/** Signs `payload` exactly as Stripe does: `t=<seconds>,v1=<hex HMAC-SHA256 of "t.payload">`. */
export function signatureHeader(payload: string, secret: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${hmac(payload, secret, timestamp)}`;
}

export function hmac(payload: string, secret: string, timestamp: number | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
}

export interface EventOptions {
  id?: string;
  created?: number;
  shape?: ApiShape;
}

export function event(type: string, object: Record<string, unknown>, options: EventOptions = {}): StripeEvent {
  const shape = options.shape ?? 'basil';
  return {
    id: options.id ?? stripeId('evt'),
    object: 'event',
    api_version: API_VERSIONS[shape],
    created: options.created ?? Math.floor(Date.now() / 1000),
    livemode: false,
    pending_webhooks: 1,
    request: { id: stripeId('req'), idempotency_key: null },
    type,
    data: { object },
  };
}

export interface SubscriptionFields {
  id: string;
  customer: string;
  status?: string;
  /** Metadata exactly as stored on the subscription (keys with the prefix). */
  metadata?: Record<string, string>;
  currentPeriodEnd?: number;
  interval?: 'month' | 'year';
  shape?: ApiShape;
  /** The item's price: pass the same one to every snapshot of a subscription that keeps its price. @defaultValue a new price (and product) id each call */
  price?: { id: string; product: string };
}

export function subscriptionObject(fields: SubscriptionFields): Record<string, unknown> {
  const shape = fields.shape ?? 'basil';
  const end = fields.currentPeriodEnd ?? Math.floor(Date.now() / 1000) + 30 * 86_400;
  const start = end - (fields.interval === 'year' ? 365 : 30) * 86_400;
  const item: Record<string, unknown> = {
    id: stripeId('si'),
    object: 'subscription_item',
    created: start,
    metadata: {},
    price: {
      id: fields.price?.id ?? stripeId('price'),
      object: 'price',
      active: true,
      currency: 'usd',
      product: fields.price?.product ?? stripeId('prod'),
      recurring: { interval: fields.interval ?? 'month', interval_count: 1, usage_type: 'licensed' },
      type: 'recurring',
      unit_amount: fields.interval === 'year' ? 19_000 : 1_900,
    },
    quantity: 1,
    subscription: fields.id,
  };
  if (shape === 'basil') Object.assign(item, { current_period_start: start, current_period_end: end });
  const subscription: Record<string, unknown> = {
    id: fields.id,
    object: 'subscription',
    cancel_at_period_end: false,
    collection_method: 'charge_automatically',
    created: start,
    currency: 'usd',
    customer: fields.customer,
    items: { object: 'list', data: [item], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${fields.id}` },
    latest_invoice: stripeId('in'),
    livemode: false,
    metadata: fields.metadata ?? {},
    start_date: start,
    status: fields.status ?? 'active',
  };
  if (shape === 'legacy') Object.assign(subscription, { current_period_start: start, current_period_end: end });
  return subscription;
}

export interface InvoiceFields {
  subscription: string;
  customer: string;
  status?: 'paid' | 'open';
  metadata?: Record<string, string>;
  shape?: ApiShape;
}

export function invoiceObject(fields: InvoiceFields): Record<string, unknown> {
  const paid = (fields.status ?? 'paid') === 'paid';
  const invoice: Record<string, unknown> = {
    id: stripeId('in'),
    object: 'invoice',
    amount_due: 1_900,
    amount_paid: paid ? 1_900 : 0,
    attempt_count: 1,
    billing_reason: 'subscription_cycle',
    currency: 'usd',
    customer: fields.customer,
    customer_email: null,
    livemode: false,
    status: fields.status ?? 'paid',
  };
  if ((fields.shape ?? 'basil') === 'basil') {
    invoice.parent = {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { metadata: fields.metadata ?? {}, subscription: fields.subscription },
    };
  } else {
    invoice.subscription = fields.subscription;
    invoice.subscription_details = { metadata: fields.metadata ?? {} };
  }
  return invoice;
}

export interface CheckoutFields {
  subscription?: string | null;
  customer: string | null;
  customerEmail?: string | null;
  detailsEmail?: string | null;
  metadata?: Record<string, string>;
  mode?: 'subscription' | 'payment';
}

export function checkoutSessionObject(fields: CheckoutFields): Record<string, unknown> {
  return {
    id: `cs_test_${randomBytes(16).toString('hex')}`,
    object: 'checkout.session',
    amount_total: 1_900,
    currency: 'usd',
    customer: fields.customer,
    customer_details: { email: fields.detailsEmail ?? null, name: null },
    customer_email: fields.customerEmail ?? null,
    livemode: false,
    metadata: fields.metadata ?? {},
    mode: fields.mode ?? 'subscription',
    payment_status: 'paid',
    status: 'complete',
    subscription: fields.subscription === undefined ? null : fields.subscription,
  };
}

/** `<prefix>user_id`, `<prefix>plan_slug`, `<prefix>period` metadata. */
export function billingMetadata(
  values: { userId?: number | string; planSlug?: string; period?: string },
  prefix = 'dictia_',
): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (values.userId !== undefined) metadata[`${prefix}user_id`] = String(values.userId);
  if (values.planSlug !== undefined) metadata[`${prefix}plan_slug`] = values.planSlug;
  if (values.period !== undefined) metadata[`${prefix}period`] = values.period;
  return metadata;
}

export interface LifecycleOptions {
  subscriptionId?: string;
  customerId?: string;
  email: string;
  userId?: number;
  planSlug?: string;
  period?: 'monthly' | 'yearly';
  shape?: ApiShape;
  /** `created` of the first event; each next event is one second later. */
  start?: number;
}

/**
 * A realistic lifecycle in order: checkout completed, subscription created, payment failed,
 * payment succeeded, subscription updated (renewed), subscription deleted.
 */
export function lifecycle(options: LifecycleOptions): StripeEvent[] {
  const shape = options.shape ?? 'basil';
  const subscription = options.subscriptionId ?? stripeId('sub');
  const customer = options.customerId ?? stripeId('cus');
  const metadata = billingMetadata({ userId: options.userId, planSlug: options.planSlug ?? 'pro', period: options.period ?? 'monthly' });
  const interval = options.period === 'yearly' ? 'year' : 'month';
  const t0 = options.start ?? Math.floor(Date.now() / 1000) - 600;
  const end1 = t0 + 30 * 86_400;
  const end2 = end1 + 30 * 86_400;
  const sub = (status: string, currentPeriodEnd: number) =>
    subscriptionObject({ id: subscription, customer, status, metadata, currentPeriodEnd, interval, shape });
  const invoice = (status: 'paid' | 'open') => invoiceObject({ subscription, customer, status, metadata, shape });
  return [
    event('checkout.session.completed', checkoutSessionObject({ subscription, customer, customerEmail: options.email, metadata }), {
      created: t0,
      shape,
    }),
    event('customer.subscription.created', sub('active', end1), { created: t0 + 1, shape }),
    event('invoice.payment_failed', invoice('open'), { created: t0 + 2, shape }),
    event('invoice.payment_succeeded', invoice('paid'), { created: t0 + 3, shape }),
    event('customer.subscription.updated', sub('active', end2), { created: t0 + 4, shape }),
    event('customer.subscription.deleted', sub('canceled', end2), { created: t0 + 5, shape }),
  ];
}
