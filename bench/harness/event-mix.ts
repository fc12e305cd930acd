import {
  billingMetadata,
  checkoutSessionObject,
  event,
  invoiceObject,
  stripeId,
  subscriptionObject,
  type ApiShape,
  type StripeEvent,
} from '@billing/stripe-simulator/events';
import { seededRandom } from '@billing/testing/seeded-random';

export interface EventMixOptions {
  /** Users pre-inserted in the database; subscription i belongs to user `userIds[i % length]`. */
  userIds: readonly number[];
  subscriptions: number;
  /** Exactly this many events, spread evenly over the subscriptions. */
  events: number;
  /** Same seed → same mix of types and shapes (ids are always fresh). @defaultValue 42 */
  seed?: number;
}

const DAY = 86_400;
const PLANS = ['starter', 'pro', 'business'] as const;
/** About one renewal in this many changes the subscription's price. */
const PRICE_CHANGE_ONE_IN = 25;
/** The catalog: one price per plan and period, the same ids in every snapshot. */
const catalogPrice = (plan: string, period: string) => ({ id: `price_bench_${plan}_${period}`, product: `prod_bench_${plan}` });

/**
 * A realistic stream of Stripe events for many subscriptions, in `created` order as Stripe would
 * send them: a checkout and the subscription's creation, then monthly renewals (invoice.created,
 * invoice.payment_succeeded + invoice.paid, customer.subscription.updated), about one renewal in
 * seven failing first (payment_failed → past_due, then recovered), and about one subscription in
 * ten cancelled. A renewal's events are seconds apart, so they reach the worker together and
 * contend for the same subscription row, as they do in production. One API shape in five is
 * the legacy one. Users are referenced by `dictia_user_id` metadata and bound by their checkout.
 * Every snapshot of a subscription carries its price (one of the catalog's, by plan and period);
 * about one renewal in `PRICE_CHANGE_ONE_IN` moves it to another plan's price (an upgrade or a
 * downgrade), so the outbox's `plan_changed` rows stay as rare as price changes are.
 */
export function eventMix(options: EventMixOptions): StripeEvent[] {
  const random = seededRandom(options.seed ?? 42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const perSubscription = Math.floor(options.events / options.subscriptions);
  const extra = options.events % options.subscriptions;
  const origin = Math.floor(Date.now() / 1000) - 400 * DAY;

  const all: Array<{ at: number; seq: number; event: StripeEvent }> = [];
  for (let s = 0; s < options.subscriptions; s += 1) {
    const wanted = perSubscription + (s < extra ? 1 : 0);
    if (wanted === 0) continue;
    const userId = options.userIds[s % options.userIds.length];
    const shape: ApiShape = random() < 0.2 ? 'legacy' : 'basil';
    const period = random() < 0.2 ? 'yearly' : 'monthly';
    const interval = period === 'yearly' ? 'year' : 'month';
    const cycle = (period === 'yearly' ? 365 : 30) * DAY;
    const plan = pick(PLANS);
    const metadata = billingMetadata({ userId, planSlug: plan, period });
    let price = catalogPrice(plan, period);
    const subscription = stripeId('sub');
    const customer = stripeId('cus');
    const stream: Array<[number, StripeEvent]> = [];
    const sub = (status: string, end: number, at: number) =>
      event(
        `customer.subscription.${status === 'canceled' ? 'deleted' : 'updated'}`,
        subscriptionObject({ id: subscription, customer, status, metadata, currentPeriodEnd: end, interval, shape, price }),
        { created: at, shape },
      );
    const invoice = (type: string, status: 'paid' | 'open', at: number) =>
      event(type, invoiceObject({ subscription, customer, status, metadata, shape }), { created: at, shape });

    // 1. Checkout, then the subscription and its first invoice.
    let t = origin + Math.floor(random() * 30 * DAY);
    let end = t + cycle;
    stream.push([
      t,
      event(
        'checkout.session.completed',
        checkoutSessionObject({ subscription, customer, customerEmail: `bench-user-${s}@example.com`, metadata }),
        { created: t, shape },
      ),
    ]);
    const created = subscriptionObject({
      id: subscription,
      customer,
      status: 'active',
      metadata,
      currentPeriodEnd: end,
      interval,
      shape,
      price,
    });
    stream.push([t + 1, event('customer.subscription.created', created, { created: t + 1, shape })]);
    stream.push([t + 2, invoice('invoice.payment_succeeded', 'paid', t + 2)]);
    stream.push([t + 2, invoice('invoice.paid', 'paid', t + 2)]);

    // 2. Renewals until the subscription has its share of the events.
    while (stream.length < wanted) {
      t = end;
      end += cycle;
      stream.push([t, invoice('invoice.created', 'open', t)]);
      if (random() < 0.15) {
        stream.push([t + 1, invoice('invoice.payment_failed', 'open', t + 1)]);
        stream.push([t + 2, sub('past_due', end, t + 2)]);
        t += 3 * DAY;
      }
      stream.push([t + 1, invoice('invoice.payment_succeeded', 'paid', t + 1)]);
      stream.push([t + 1, invoice('invoice.paid', 'paid', t + 1)]);
      if (random() < 1 / PRICE_CHANGE_ONE_IN) price = catalogPrice(pick(PLANS.filter((p) => !price.id.includes(`_${p}_`))), period);
      stream.push([t + 2, sub('active', end, t + 2)]);
    }
    stream.length = wanted;

    // 3. About one subscription in ten ends cancelled.
    if (wanted > 2 && random() < 0.1) {
      const last = stream[wanted - 1]?.[0] ?? t;
      stream[wanted - 1] = [last + 60, sub('canceled', end, last + 60)];
    }
    for (const [at, e] of stream) all.push({ at, seq: all.length, event: e });
  }
  all.sort((a, b) => a.at - b.at || a.seq - b.seq);
  return all.map((x) => x.event);
}

/** Counts by type, for the report. */
export function typeCounts(events: readonly StripeEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of events) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
