import { randomBytes } from 'node:crypto';
import type { StripeEvent } from '@billing/queue';
import { API_VERSIONS, type ApiShape } from './events';
import {
  type CatalogPrice,
  type CheckoutFields,
  type HistoryIds,
  type InvoiceFields,
  previousAttributes,
  renderCheckoutSession,
  renderInvoice,
  renderSubscription,
  type SubscriptionModel,
} from './objects';

export type { CatalogPrice, HistoryIds } from './objects';

/**
 * A Stripe subscription's history as Stripe emits it: a subscription object that changes over
 * time, and the events each change produces — snapshots (`customer.subscription.*`, with
 * `previous_attributes` holding the previous values of the top-level keys that changed, as
 * Stripe sends them), invoices, the checkout session, and events nobody handles. The object
 * after the last change is Stripe's newest subscription object: the oracle of every test that
 * delivers the history in some order.
 */

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
  create(
    at: number,
    fields: { status: string; price: CatalogPrice; periodEnd?: number; trialEnd?: number | null; metadata?: Record<string, string> },
  ): this {
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
  invoice(at: number, type: string, fields: InvoiceFields): this {
    const model = this.require();
    return this.emit(at, type, renderInvoice(model, this.ids, this.shape, fields));
  }

  /** `checkout.session.completed` in subscription mode. */
  checkout(at: number, fields: CheckoutFields): this {
    return this.emit(at, 'checkout.session.completed', renderCheckoutSession(this.model, this.ids, at, fields));
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
      data:
        previous === undefined
          ? { object: structuredClone(object) }
          : { object: structuredClone(object), previous_attributes: structuredClone(previous) },
    });
    return this;
  }

  private render(m: SubscriptionModel): Record<string, unknown> {
    return renderSubscription(m, this.ids, this.shape);
  }
}
