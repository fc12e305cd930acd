import { randomBytes } from 'node:crypto';
import type { StripeEvent } from '@billing/queue';
import { API_VERSIONS, type ApiShape } from './stripe-events';

/**
 * A Stripe subscription's history as Stripe emits it: a subscription object that changes over
 * time, and the events each change produces — snapshots (`customer.subscription.*`, with
 * `previous_attributes` holding the previous values of the top-level keys that changed, as
 * Stripe sends them), invoices, the checkout session, and events nobody handles. The object
 * after the last change is Stripe's newest subscription object: the oracle of every test that
 * delivers the history in some order.
 */

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
interface SubscriptionModel {
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

export type SubscriptionChange = Partial<Omit<SubscriptionModel, 'created'>>;

export class SubscriptionHistory {
  readonly events: StripeEvent[] = [];
  private model: SubscriptionModel | undefined;
  private sequence = 0;

  constructor(
    readonly ids: HistoryIds,
    readonly shape: ApiShape = 'basil',
  ) {}

  /** Stripe's newest subscription object (after the last change). */
  get final(): Record<string, unknown> {
    return this.render(this.require());
  }

  get finalModel(): Readonly<SubscriptionModel> {
    return this.require();
  }

  /** `customer.subscription.created`. */
  create(at: number, fields: { status: string; price: CatalogPrice; periodEnd?: number; trialEnd?: number | null; metadata?: Record<string, string> }): this {
    const trialEnd = fields.trialEnd ?? null;
    const periodEnd = fields.periodEnd ?? trialEnd ?? at + (fields.price.interval === 'year' ? 365 : 30) * 86_400;
    this.model = {
      status: fields.status,
      price: fields.price,
      periodStart: at,
      periodEnd,
      cancelAtPeriodEnd: false,
      cancelAt: null,
      canceledAt: null,
      endedAt: null,
      trialStart: trialEnd === null ? null : at,
      trialEnd,
      metadata: fields.metadata ?? {},
      latestInvoice: this.id('in'),
      pauseCollection: null,
      created: at,
    };
    return this.emit(at, 'customer.subscription.created', this.render(this.model));
  }

  /** `customer.subscription.updated` with `previous_attributes`, plus any companion snapshot types Stripe sends with it (`…paused`, `…resumed`). */
  update(at: number, change: SubscriptionChange, companions: string[] = []): this {
    const before = this.require();
    const after = { ...before, ...change };
    this.model = after;
    const previous = previousAttributes(this.render(before), this.render(after));
    this.emit(at, 'customer.subscription.updated', this.render(after), previous);
    for (const type of companions) this.emit(at, type, this.render(after));
    return this;
  }

  /** A new billing period (renewal, trial end, resume): the period moves and a new latest invoice. */
  renew(at: number, change: SubscriptionChange = {}, companions: string[] = []): this {
    const price = change.price ?? this.require().price;
    const length = price.interval === 'year' ? 365 * 86_400 : 30 * 86_400;
    return this.update(at, { periodStart: at, periodEnd: at + length, latestInvoice: this.id('in'), ...change }, companions);
  }

  /** `customer.subscription.deleted`: canceled now. */
  delete(at: number): this {
    const before = this.require();
    this.model = { ...before, status: 'canceled', canceledAt: before.canceledAt ?? at, endedAt: at };
    return this.emit(at, 'customer.subscription.deleted', this.render(this.model));
  }

  /** A snapshot that names no change (`…trial_will_end`, `…pending_update_expired`). */
  snapshot(at: number, type: string): this {
    return this.emit(at, type, this.render(this.require()));
  }

  /** An invoice event for the subscription's latest invoice. */
  invoice(at: number, type: string, fields: { billingReason: string; paid: boolean; amount?: number }): this {
    const model = this.require();
    return this.emit(at, type, this.renderInvoice(model, fields));
  }

  /** `checkout.session.completed` in subscription mode. */
  checkout(at: number, fields: { email?: string | null; detailsEmail?: string | null; metadata?: Record<string, string>; paymentStatus?: 'paid' | 'no_payment_required' }): this {
    return this.emit(at, 'checkout.session.completed', {
      id: `cs_test_${this.ids.tag}${randomBytes(8).toString('hex')}`,
      object: 'checkout.session',
      amount_subtotal: this.model?.price.unitAmount ?? 0,
      amount_total: this.model?.price.unitAmount ?? 0,
      billing_address_collection: null,
      cancel_url: 'https://example.com/cancel',
      client_reference_id: null,
      created: at - 40,
      currency: 'usd',
      customer: this.ids.customer,
      customer_creation: 'always',
      customer_details: { address: { city: 'Montréal', country: 'CA', line1: '1 rue Example', line2: null, postal_code: 'H2X 1Y4', state: 'QC' }, email: fields.detailsEmail ?? fields.email ?? null, name: 'Ada Lovelace', phone: null, tax_exempt: 'none', tax_ids: [] },
      customer_email: fields.email ?? null,
      expires_at: at + 86_400,
      invoice: this.model?.latestInvoice ?? null,
      livemode: false,
      metadata: fields.metadata ?? {},
      mode: 'subscription',
      payment_intent: null,
      payment_method_collection: 'always',
      payment_status: fields.paymentStatus ?? 'paid',
      status: 'complete',
      subscription: this.ids.subscription,
      success_url: 'https://example.com/success',
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted',
      url: null,
    });
  }

  /** An event nobody handles (customer.created, charge.succeeded…), with a minimal object of its kind. */
  other(at: number, type: string, object: Record<string, unknown>): this {
    return this.emit(at, type, object);
  }

  private require(): SubscriptionModel {
    if (!this.model) throw new Error('SubscriptionHistory: create() the subscription first');
    return this.model;
  }

  private id(prefix: string): string {
    this.sequence += 1;
    return `${prefix}_${this.ids.tag}${String(this.sequence).padStart(4, '0')}${randomBytes(4).toString('hex')}`;
  }

  private emit(at: number, type: string, object: Record<string, unknown>, previous?: Record<string, unknown>): this {
    this.events.push({
      id: `evt_${this.ids.tag}${String(this.events.length).padStart(3, '0')}${randomBytes(6).toString('hex')}`,
      object: 'event',
      api_version: API_VERSIONS[this.shape],
      created: at,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
      data: previous === undefined ? { object: structuredClone(object) } : { object: structuredClone(object), previous_attributes: structuredClone(previous) },
    });
    return this;
  }

  /** The subscription object in the history's API shape. */
  private render(m: SubscriptionModel): Record<string, unknown> {
    const price = renderPrice(m.price);
    const item: Record<string, unknown> = {
      id: `si_${this.ids.subscription.slice(4)}`,
      object: 'subscription_item',
      billing_thresholds: null,
      created: m.created,
      discounts: [],
      metadata: {},
      plan: { id: m.price.id, object: 'plan', active: true, amount: m.price.unitAmount, currency: 'usd', interval: m.price.interval, interval_count: 1, product: price.product, usage_type: 'licensed' },
      price,
      quantity: 1,
      subscription: this.ids.subscription,
      tax_rates: [],
    };
    if (this.shape === 'basil') Object.assign(item, { current_period_start: m.periodStart, current_period_end: m.periodEnd });
    const subscription: Record<string, unknown> = {
      id: this.ids.subscription,
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
      customer: this.ids.customer,
      days_until_due: null,
      default_payment_method: null,
      default_source: null,
      default_tax_rates: [],
      description: null,
      discounts: [],
      ended_at: m.endedAt,
      invoice_settings: { account_tax_ids: null, issuer: { type: 'self' } },
      items: { object: 'list', data: [item], has_more: false, total_count: 1, url: `/v1/subscription_items?subscription=${this.ids.subscription}` },
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
    if (this.shape === 'legacy') {
      Object.assign(subscription, { current_period_start: m.periodStart, current_period_end: m.periodEnd, plan: item.plan, quantity: 1 });
    }
    return subscription;
  }

  private renderInvoice(m: SubscriptionModel, fields: { billingReason: string; paid: boolean; amount?: number }): Record<string, unknown> {
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
      customer: this.ids.customer,
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
            ...(this.shape === 'basil'
              ? {
                  parent: { type: 'subscription_item_details', subscription_item_details: { subscription: this.ids.subscription, subscription_item: `si_${this.ids.subscription.slice(4)}`, proration: false } },
                  pricing: { type: 'price_details', price_details: { price: m.price.id, product: `prod_${m.price.plan}` }, unit_amount_decimal: String(m.price.unitAmount) },
                }
              : { price: renderPrice(m.price), subscription: this.ids.subscription, proration: false }),
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
    if (this.shape === 'basil') {
      invoice.parent = { type: 'subscription_details', quote_details: null, subscription_details: { metadata: { ...m.metadata }, subscription: this.ids.subscription } };
    } else {
      Object.assign(invoice, { subscription: this.ids.subscription, subscription_details: { metadata: { ...m.metadata } } });
    }
    return invoice;
  }
}

function renderPrice(p: CatalogPrice): Record<string, unknown> {
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
function previousAttributes(before: Record<string, unknown>, after: Record<string, unknown>): Record<string, unknown> {
  const previous: Record<string, unknown> = {};
  for (const key of Object.keys(before)) {
    if (JSON.stringify(before[key]) !== JSON.stringify(after[key])) previous[key] = before[key];
  }
  return previous;
}
