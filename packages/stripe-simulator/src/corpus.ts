import { SubscriptionHistory } from './history';
import {
  cardCheckout,
  checkoutFor,
  DAY,
  HOUR,
  ids,
  PRICES,
  renewalInvoicePaid,
  single,
  userMetadata,
  type HistoryCase,
} from './corpus-builders';

export {
  CORPUS_PLAN_PRICES,
  PRICES,
  type BuiltHistory,
  type CorpusUser,
  type HistoryCase,
  type HistoryContext,
  type UserRoute,
} from './corpus-builders';

/**
 * Subscription histories shaped the way Stripe emits them (events of one change sharing a
 * second, invoices beside the subscription updates, events nobody handles), each with the
 * subscriptions whose final objects are its oracle. Used by the lifecycle tests of the billing
 * domain, the worker and the fault suite.
 */

export const LIFECYCLE_CORPUS: HistoryCase[] = [
  {
    name: 'card checkout',
    route: 'checkout-email',
    build: (ctx) => single(cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, ctx.start, PRICES.proMonthly, 'checkout-email')),
  },
  {
    name: '3-D Secure checkout: incomplete, then active once authenticated',
    route: 'checkout-email',
    build: (ctx) => {
      const h = new SubscriptionHistory(ids(ctx), ctx.shape);
      const t = ctx.start;
      h.create(t, { status: 'incomplete', price: PRICES.starterMonthly })
        .invoice(t, 'invoice.created', { billingReason: 'subscription_create', paid: false })
        .invoice(t, 'invoice.finalized', { billingReason: 'subscription_create', paid: false })
        .invoice(t, 'invoice.payment_action_required', { billingReason: 'subscription_create', paid: false })
        .invoice(t, 'invoice.payment_failed', { billingReason: 'subscription_create', paid: false })
        .invoice(t + 45, 'invoice.paid', { billingReason: 'subscription_create', paid: true })
        .invoice(t + 45, 'invoice.payment_succeeded', { billingReason: 'subscription_create', paid: true })
        .update(t + 45, { status: 'active' });
      return single(checkoutFor(h, ctx, t + 46, 'checkout-email'));
    },
  },
  {
    name: 'incomplete, never paid: incomplete_expired after 23 hours',
    route: 'metadata',
    build: (ctx) => {
      const h = new SubscriptionHistory(ids(ctx), ctx.shape);
      const t = ctx.start;
      h.create(t, { status: 'incomplete', price: PRICES.proMonthly, metadata: userMetadata(ctx, 'metadata') })
        .invoice(t, 'invoice.created', { billingReason: 'subscription_create', paid: false })
        .invoice(t, 'invoice.payment_failed', { billingReason: 'subscription_create', paid: false })
        .update(t + 23 * HOUR, { status: 'incomplete_expired' })
        .invoice(t + 23 * HOUR, 'invoice.voided', { billingReason: 'subscription_create', paid: false });
      return single(h);
    },
  },
  {
    name: 'trial through checkout, then active (yearly price, no period in the metadata)',
    route: 'checkout-email',
    build: (ctx) => {
      const h = new SubscriptionHistory(ids(ctx), ctx.shape);
      const t = ctx.start;
      h.create(t, { status: 'trialing', price: PRICES.businessYearly, trialEnd: t + 14 * DAY })
        .invoice(t, 'invoice.created', { billingReason: 'subscription_create', paid: true, amount: 0 })
        .invoice(t, 'invoice.paid', { billingReason: 'subscription_create', paid: true, amount: 0 })
        .invoice(t, 'invoice.payment_succeeded', { billingReason: 'subscription_create', paid: true, amount: 0 });
      checkoutFor(h, ctx, t, 'checkout-email', 'business', 'no_payment_required');
      h.snapshot(t + 11 * DAY, 'customer.subscription.trial_will_end').renew(t + 14 * DAY, { status: 'active' });
      return single(renewalInvoicePaid(h, t + 14 * DAY));
    },
  },
  {
    name: 'trial through checkout, still in its trial (checkout a second after the subscription)',
    route: 'metadata',
    build: (ctx) => {
      const h = new SubscriptionHistory(ids(ctx), ctx.shape);
      const t = ctx.start;
      h.create(t, { status: 'trialing', price: PRICES.proYearly, trialEnd: t + 30 * DAY, metadata: userMetadata(ctx, 'metadata') }).invoice(
        t,
        'invoice.paid',
        { billingReason: 'subscription_create', paid: true, amount: 0 },
      );
      return single(checkoutFor(h, ctx, t + 1, 'metadata', undefined, 'no_payment_required'));
    },
  },
  {
    name: 'trial without a payment method: paused at trial end, resumed later',
    route: 'checkout-email',
    build: (ctx) => {
      const h = new SubscriptionHistory(ids(ctx), ctx.shape);
      const t = ctx.start;
      h.create(t, { status: 'trialing', price: PRICES.proMonthly, trialEnd: t + 14 * DAY });
      checkoutFor(h, ctx, t, 'checkout-email', undefined, 'no_payment_required');
      h.snapshot(t + 11 * DAY, 'customer.subscription.trial_will_end')
        .update(t + 14 * DAY, { status: 'paused' }, ['customer.subscription.paused'])
        .renew(t + 20 * DAY, { status: 'active' }, ['customer.subscription.resumed']);
      return single(renewalInvoicePaid(h, t + 20 * DAY));
    },
  },
  {
    name: 'renewal paid (the invoice an hour after the period moved)',
    route: 'bound',
    build: (ctx) => {
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, ctx.start, PRICES.proYearly, 'bound');
      h.renew(ctx.start + 365 * DAY);
      return single(renewalInvoicePaid(h, ctx.start + 365 * DAY));
    },
  },
  {
    name: 'renewal paid, pre-2025-03-31 payload shape',
    route: 'bound',
    shape: 'legacy',
    build: (ctx) => {
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), 'legacy'), ctx, ctx.start, PRICES.starterMonthly, 'bound');
      h.renew(ctx.start + 30 * DAY);
      return single(renewalInvoicePaid(h, ctx.start + 30 * DAY));
    },
  },
  {
    name: 'renewal failed: past_due, retried, recovered',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, t, PRICES.proMonthly, 'checkout-email');
      const renewal = t + 30 * DAY;
      h.renew(renewal)
        .invoice(renewal, 'invoice.created', { billingReason: 'subscription_cycle', paid: false })
        .invoice(renewal + HOUR, 'invoice.finalized', { billingReason: 'subscription_cycle', paid: false })
        .invoice(renewal + HOUR, 'invoice.payment_failed', { billingReason: 'subscription_cycle', paid: false })
        .update(renewal + HOUR, { status: 'past_due' })
        .invoice(renewal + 3 * DAY, 'invoice.payment_failed', { billingReason: 'subscription_cycle', paid: false })
        .invoice(renewal + 5 * DAY, 'invoice.paid', { billingReason: 'subscription_cycle', paid: true })
        .invoice(renewal + 5 * DAY, 'invoice.payment_succeeded', { billingReason: 'subscription_cycle', paid: true })
        .update(renewal + 5 * DAY, { status: 'active' });
      return single(h);
    },
  },
  {
    name: 'renewal failed for good: past_due, unpaid, canceled',
    route: 'checkout-email',
    shape: 'legacy',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), 'legacy'), ctx, t, PRICES.starterMonthly, 'checkout-email');
      const renewal = t + 30 * DAY;
      h.renew(renewal)
        .invoice(renewal + HOUR, 'invoice.payment_failed', { billingReason: 'subscription_cycle', paid: false })
        .update(renewal + HOUR, { status: 'past_due' })
        .invoice(renewal + 3 * DAY, 'invoice.payment_failed', { billingReason: 'subscription_cycle', paid: false })
        .invoice(renewal + 7 * DAY, 'invoice.payment_failed', { billingReason: 'subscription_cycle', paid: false })
        .update(renewal + 7 * DAY, { status: 'unpaid' })
        .invoice(renewal + 30 * DAY, 'invoice.payment_failed', { billingReason: 'subscription_cycle', paid: false })
        .delete(renewal + 40 * DAY);
      return single(h);
    },
  },
  {
    name: 'upgrade in the Customer Portal: the price moves, the metadata still names the old plan',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, t, PRICES.starterMonthly, 'checkout-email', 'starter');
      h.update(t + 10 * DAY, { price: PRICES.proMonthly, latestInvoice: `in_${ctx.tag}up` })
        .invoice(t + 10 * DAY, 'invoice.created', { billingReason: 'subscription_update', paid: false })
        .invoice(t + 10 * DAY, 'invoice.paid', { billingReason: 'subscription_update', paid: true })
        .invoice(t + 10 * DAY, 'invoice.payment_succeeded', { billingReason: 'subscription_update', paid: true });
      return single(h);
    },
  },
  {
    name: 'downgrade in the Customer Portal: yearly business to monthly starter',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, t, PRICES.businessYearly, 'checkout-email', 'business');
      h.renew(t + 40 * DAY, { price: PRICES.starterMonthly });
      return single(renewalInvoicePaid(h, t + 40 * DAY));
    },
  },
  {
    name: 'cancel at period end, then undo it',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, t, PRICES.proMonthly, 'checkout-email');
      const end = h.finalModel.periodEnd;
      h.update(t + 5 * DAY, { cancelAtPeriodEnd: true, cancelAt: end, canceledAt: t + 5 * DAY }).update(t + 6 * DAY, {
        cancelAtPeriodEnd: false,
        cancelAt: null,
        canceledAt: null,
      });
      return single(h);
    },
  },
  {
    name: 'cancel at period end, then ended',
    route: 'bound',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, t, PRICES.proMonthly, 'bound');
      const end = h.finalModel.periodEnd;
      h.update(t + 5 * DAY, { cancelAtPeriodEnd: true, cancelAt: end, canceledAt: t + 5 * DAY }).delete(end);
      return single(h);
    },
  },
  {
    name: 'scheduled cancellation at a date (flexible billing cancel_at)',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const h = cardCheckout(new SubscriptionHistory(ids(ctx), ctx.shape), ctx, t, PRICES.proMonthly, 'checkout-email');
      h.update(t + 3 * DAY, { cancelAt: t + 20 * DAY, canceledAt: t + 3 * DAY });
      return single(h);
    },
  },
  {
    name: 'resubscription: the old subscription ends after the new one started',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const old = cardCheckout(new SubscriptionHistory(ids(ctx, 1), ctx.shape), ctx, t, PRICES.starterMonthly, 'checkout-email');
      const end = old.finalModel.periodEnd;
      old.update(t + 5 * DAY, { cancelAtPeriodEnd: true, cancelAt: end, canceledAt: t + 5 * DAY });
      const fresh = cardCheckout(
        new SubscriptionHistory(ids(ctx, 2), ctx.shape),
        ctx,
        t + 20 * DAY,
        PRICES.businessYearly,
        'checkout-email',
      );
      old.delete(end);
      const events = [...old.events, ...fresh.events].sort((a, b) => a.created - b.created);
      return { events, subscriptions: [old, fresh], customer: old.ids.customer };
    },
  },
  {
    name: 'customer unknown until the session links it (email only in customer_details)',
    route: 'checkout-email',
    build: (ctx) => {
      const t = ctx.start;
      const h = new SubscriptionHistory(ids(ctx), ctx.shape);
      h.create(t, { status: 'incomplete', price: PRICES.proMonthly })
        .invoice(t, 'invoice.paid', { billingReason: 'subscription_create', paid: true })
        .update(t, { status: 'active' })
        .checkout(t + 2, { email: null, detailsEmail: ctx.user.email.toUpperCase() })
        .renew(t + 30 * DAY);
      return single(renewalInvoicePaid(h, t + 30 * DAY));
    },
  },
];
