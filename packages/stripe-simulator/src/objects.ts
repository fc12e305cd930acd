import { randomBytes } from 'node:crypto';
import type { ApiShape } from './events';

/** Stripe's objects of a subscription history (subscription, invoice, checkout session, price) rendered from its model. */

export interface CatalogPrice {
  id: string;
  interval: 'month' | 'year';
  unitAmount: number;
  lookupKey?: string;
  /** `metadata` of the price (e.g. `{ dictia_plan_slug: 'pro' }`). */
  metadata?: Record<string, string>;
  /** The plan slug this price stands for in the test's catalog (what the row's `plan_slug` must say). */
  plan: string;
}

export interface HistoryIds {
  subscription: string;
  customer: string;
  /** Suffix that keeps event and object ids unique across runs. */
  tag: string;
}

/** The facts of the subscription object a test compares the row with. */
export interface SubscriptionModel {
  status: string;
  price: CatalogPrice;
  periodStart: number;
  periodEnd: number;
  cancelAtPeriodEnd: boolean;
  cancelAt: number | null;
  canceledAt: number | null;
  endedAt: number | null;
  trialStart: number | null;
  trialEnd: number | null;
  metadata: Record<string, string>;
  latestInvoice: string;
  pauseCollection: null | { behavior: string; resumes_at: number | null };
  created: number;
}

export interface InvoiceFields {
  billingReason: string;
  paid: boolean;
  amount?: number;
}

export interface CheckoutFields {
  email?: string | null;
  detailsEmail?: string | null;
  metadata?: Record<string, string>;
  paymentStatus?: 'paid' | 'no_payment_required';
}

/** The subscription object in the history's API shape. */
export function renderSubscription(m: SubscriptionModel, ids: HistoryIds, shape: ApiShape): Record<string, unknown> {
  const price = renderPrice(m.price);
  const item: Record<string, unknown> = {
    id: `si_${ids.subscription.slice(4)}`,
    object: 'subscription_item',
    billing_thresholds: null,
    created: m.created,
    discounts: [],
    metadata: {},
    plan: {
      id: m.price.id,
      object: 'plan',
      active: true,
      amount: m.price.unitAmount,
      currency: 'usd',
      interval: m.price.interval,
      interval_count: 1,
      product: price.product,
      usage_type: 'licensed',
    },
    price,
    quantity: 1,
    subscription: ids.subscription,
    tax_rates: [],
  };
  if (shape === 'basil') Object.assign(item, { current_period_start: m.periodStart, current_period_end: m.periodEnd });
  const subscription: Record<string, unknown> = {
    id: ids.subscription,
    object: 'subscription',
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: m.trialEnd ?? m.created,
    billing_cycle_anchor_config: null,
    billing_mode: { type: 'classic' },
    cancel_at: m.cancelAt,
    cancel_at_period_end: m.cancelAtPeriodEnd,
    canceled_at: m.canceledAt,
    cancellation_details: { comment: null, feedback: null, reason: m.canceledAt === null ? null : 'cancellation_requested' },
    collection_method: 'charge_automatically',
    created: m.created,
    currency: 'usd',
    customer: ids.customer,
    days_until_due: null,
    default_payment_method: null,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: m.endedAt,
    invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
    items: {
      object: 'list',
      data: [item],
      has_more: false,
      total_count: 1,
      url: `/v1/subscription_items?subscription=${ids.subscription}`,
    },
    latest_invoice: m.latestInvoice,
    livemode: false,
    metadata: { ...m.metadata },
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: m.pauseCollection,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: 'off' },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: m.created,
    status: m.status,
    test_clock: null,
    transfer_data: null,
    trial_end: m.trialEnd,
    trial_settings: { end_behavior: { missing_payment_method: 'create_invoice' } },
    trial_start: m.trialStart,
  };
  if (shape === 'legacy') {
    Object.assign(subscription, { current_period_start: m.periodStart, current_period_end: m.periodEnd, plan: item.plan, quantity: 1 });
  }
  return subscription;
}

/** The subscription's latest invoice. */
export function renderInvoice(m: SubscriptionModel, ids: HistoryIds, shape: ApiShape, fields: InvoiceFields): Record<string, unknown> {
  const amount = fields.amount ?? (m.status === 'trialing' ? 0 : m.price.unitAmount);
  const invoice: Record<string, unknown> = {
    id: m.latestInvoice,
    object: 'invoice',
    account_country: 'CA',
    account_name: 'Example SaaS',
    amount_due: amount,
    amount_paid: fields.paid ? amount : 0,
    amount_remaining: fields.paid ? 0 : amount,
    attempt_count: 1,
    attempted: true,
    auto_advance: !fields.paid,
    billing_reason: fields.billingReason,
    collection_method: 'charge_automatically',
    created: m.periodStart,
    currency: 'usd',
    customer: ids.customer,
    customer_address: { city: 'Montréal', country: 'CA', line1: '1 rue Example', line2: null, postal_code: 'H2X 1Y4', state: 'QC' },
    customer_email: 'billing-contact@example.com',
    customer_name: 'Ada Lovelace',
    customer_phone: null,
    lines: {
      object: 'list',
      data: [
        {
          id: `il_${m.latestInvoice.slice(3)}`,
          object: 'line_item',
          amount,
          currency: 'usd',
          description: `1 × ${m.price.plan} (at $${(m.price.unitAmount / 100).toFixed(2)} / ${m.price.interval})`,
          period: { start: m.periodStart, end: m.periodEnd },
          ...(shape === 'basil'
            ? {
                parent: {
                  type: 'subscription_item_details',
                  subscription_item_details: {
                    subscription: ids.subscription,
                    subscription_item: `si_${ids.subscription.slice(4)}`,
                    proration: false,
                  },
                },
                pricing: {
                  type: 'price_details',
                  price_details: { price: m.price.id, product: `prod_${m.price.plan}` },
                  unit_amount_decimal: String(m.price.unitAmount),
                },
              }
            : {
                price: renderPrice(m.price),
                subscription: ids.subscription,
                subscription_item: `si_${ids.subscription.slice(4)}`,
                proration: false,
              }),
          quantity: 1,
        },
      ],
      has_more: false,
      total_count: 1,
    },
    livemode: false,
    metadata: {},
    period_end: m.periodStart,
    period_start: m.periodStart,
    status: fields.paid ? 'paid' : 'open',
    subtotal: amount,
    total: amount,
  };
  if (shape === 'basil') {
    invoice.parent = {
      type: 'subscription_details',
      quote_details: null,
      subscription_details: { metadata: { ...m.metadata }, subscription: ids.subscription },
    };
  } else {
    Object.assign(invoice, { subscription: ids.subscription, subscription_details: { metadata: { ...m.metadata } } });
  }
  return invoice;
}

/** A `checkout.session` in subscription mode, completed at `at`. */
export function renderCheckoutSession(
  m: SubscriptionModel | undefined,
  ids: HistoryIds,
  at: number,
  fields: CheckoutFields,
): Record<string, unknown> {
  return {
    id: `cs_test_${ids.tag}${randomBytes(8).toString('hex')}`,
    object: 'checkout.session',
    amount_subtotal: m?.price.unitAmount ?? 0,
    amount_total: m?.price.unitAmount ?? 0,
    billing_address_collection: null,
    cancel_url: 'https://example.com/cancel',
    client_reference_id: null,
    created: at - 40,
    currency: 'usd',
    customer: ids.customer,
    customer_creation: 'always',
    customer_details: {
      address: { city: 'Montréal', country: 'CA', line1: '1 rue Example', line2: null, postal_code: 'H2X 1Y4', state: 'QC' },
      email: fields.detailsEmail ?? fields.email ?? null,
      name: 'Ada Lovelace',
      phone: null,
      tax_exempt: 'none',
      tax_ids: [],
    },
    customer_email: fields.email ?? null,
    expires_at: at + 86_400,
    invoice: m?.latestInvoice ?? null,
    livemode: false,
    metadata: fields.metadata ?? {},
    mode: 'subscription',
    payment_intent: null,
    payment_method_collection: 'always',
    payment_status: fields.paymentStatus ?? 'paid',
    status: 'complete',
    subscription: ids.subscription,
    success_url: 'https://example.com/success',
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: null,
  };
}

export function renderPrice(p: CatalogPrice): Record<string, unknown> {
  return {
    id: p.id,
    object: 'price',
    active: true,
    billing_scheme: 'per_unit',
    created: 1_700_000_000,
    currency: 'usd',
    custom_unit_amount: null,
    livemode: false,
    lookup_key: p.lookupKey ?? null,
    metadata: { ...(p.metadata ?? {}) },
    nickname: null,
    product: `prod_${p.plan}`,
    recurring: { interval: p.interval, interval_count: 1, meter: null, usage_type: 'licensed', trial_period_days: null },
    tax_behavior: 'unspecified',
    tiers_mode: null,
    transform_quantity: null,
    type: 'recurring',
    unit_amount: p.unitAmount,
    unit_amount_decimal: String(p.unitAmount),
  };
}

/** Stripe's `previous_attributes`: the previous value of each top-level key that changed. */
export function previousAttributes(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(before)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key];
  }
  return previous;
}
