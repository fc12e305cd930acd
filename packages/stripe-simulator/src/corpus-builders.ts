import type { StripeEvent } from '@billing/queue';
import type { ApiShape } from './events';
import type { CatalogPrice, SubscriptionHistory } from './history';

/** The lifecycle corpus's catalog, its types, and the pieces its histories are built from (checkouts, renewals). */

export const DAY = 86_400;
export const HOUR = 3_600;

/** The test catalog: each price names its plan a different way (docs/design.md "Plan and period"). */
export const PRICES = {
  /** Its `lookup_key` is a catalog slug. */
  starterMonthly: { id: 'price_corpus_starter_monthly', interval: 'month', unitAmount: 900, lookupKey: 'starter', plan: 'starter' },
  /** Its metadata names the plan. */
  proMonthly: { id: 'price_corpus_pro_monthly', interval: 'month', unitAmount: 2_900, metadata: { dictia_plan_slug: 'pro' }, plan: 'pro' },
  /** Mapped by `PLAN_PRICES` (its lookup key is not a slug). */
  proYearly: { id: 'price_corpus_pro_yearly', interval: 'year', unitAmount: 29_000, lookupKey: 'pro_yearly', plan: 'pro' },
  /** Its metadata names the plan; yearly. */
  businessYearly: {
    id: 'price_corpus_business_yearly',
    interval: 'year',
    unitAmount: 99_000,
    metadata: { dictia_plan_slug: 'business' },
    plan: 'business',
  },
} as const satisfies Record<string, CatalogPrice>;

/** `PLAN_PRICES` of the corpus's configuration. */
export const CORPUS_PLAN_PRICES: ReadonlyMap<string, string> = new Map([[PRICES.proYearly.id, 'pro']]);

/** How the history's user is found. */
export type UserRoute = 'checkout-email' | 'metadata' | 'bound';

export interface CorpusUser {
  id: number;
  email: string;
}

export interface HistoryContext {
  /** Unique per run: ids of subscriptions, customers and events carry it. */
  tag: string;
  /** `created` of the first event. */
  start: number;
  user: CorpusUser;
  shape: ApiShape;
  /** The Stripe customer (default `cus_<tag>`): several histories of one customer share it. */
  customer?: string;
}

export interface BuiltHistory {
  /** All events, in the order Stripe emitted them. */
  events: StripeEvent[];
  /** The subscriptions the history creates (one, or two for a resubscription). */
  subscriptions: SubscriptionHistory[];
  customer: string;
}

export interface HistoryCase {
  name: string;
  route: UserRoute;
  shape?: ApiShape;
  build: (ctx: HistoryContext) => BuiltHistory;
}

export const ids = (ctx: HistoryContext, n = 1) => ({
  subscription: `sub_${ctx.tag}${n}`,
  customer: ctx.customer ?? `cus_${ctx.tag}`,
  tag: `${ctx.tag}${n}`,
});
export const userMetadata = (ctx: HistoryContext, route: UserRoute, plan?: string) => ({
  ...(route === 'metadata' && { dictia_user_id: String(ctx.user.id) }),
  ...(plan !== undefined && { dictia_plan_slug: plan }),
});

/**
 * A card checkout as Stripe emits it, all in one second: the customer, the subscription
 * created `incomplete`, its first invoice created, finalized and paid, the subscription
 * updated to `active`, then the session completed, with the payment's own events around.
 */
export function cardCheckout(
  h: SubscriptionHistory,
  ctx: HistoryContext,
  at: number,
  price: CatalogPrice,
  route: UserRoute,
  plan?: string,
): SubscriptionHistory {
  const customer = h.ids.customer;
  h.other(at, 'customer.created', { id: customer, object: 'customer', email: ctx.user.email, name: 'Ada Lovelace' })
    .create(at, { status: 'incomplete', price, metadata: userMetadata(ctx, route, plan) })
    .invoice(at, 'invoice.created', { billingReason: 'subscription_create', paid: false })
    .invoice(at, 'invoice.finalized', { billingReason: 'subscription_create', paid: false })
    .other(at, 'payment_intent.succeeded', { id: `pi_${h.ids.tag}`, object: 'payment_intent', customer, status: 'succeeded' })
    .other(at, 'charge.succeeded', {
      id: `ch_${h.ids.tag}`,
      object: 'charge',
      customer,
      billing_details: { email: ctx.user.email, name: 'Ada Lovelace' },
    })
    .invoice(at, 'invoice.paid', { billingReason: 'subscription_create', paid: true })
    .invoice(at, 'invoice.payment_succeeded', { billingReason: 'subscription_create', paid: true })
    .update(at, { status: 'active' });
  return checkoutFor(h, ctx, at, route, plan);
}

export function checkoutFor(
  h: SubscriptionHistory,
  ctx: HistoryContext,
  at: number,
  route: UserRoute,
  plan?: string,
  paymentStatus?: 'paid' | 'no_payment_required',
): SubscriptionHistory {
  return h.checkout(at, {
    email: route === 'checkout-email' ? ctx.user.email : null,
    metadata: userMetadata(ctx, route, plan),
    ...(paymentStatus && { paymentStatus }),
  });
}

export function renewalInvoicePaid(h: SubscriptionHistory, at: number): SubscriptionHistory {
  return h
    .invoice(at, 'invoice.created', { billingReason: 'subscription_cycle', paid: false })
    .invoice(at + HOUR, 'invoice.finalized', { billingReason: 'subscription_cycle', paid: false })
    .invoice(at + HOUR, 'invoice.paid', { billingReason: 'subscription_cycle', paid: true })
    .invoice(at + HOUR, 'invoice.payment_succeeded', { billingReason: 'subscription_cycle', paid: true });
}

export const single = (h: SubscriptionHistory): BuiltHistory => ({ events: h.events, subscriptions: [h], customer: h.ids.customer });
