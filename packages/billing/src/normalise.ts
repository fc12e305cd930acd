import type { BillingConfig } from './config';
import { InvalidEventError } from './invalid-event-error';

/**
 * Every difference between Stripe API versions is absorbed here, in one place:
 * - `current_period_end` on the subscription (≤ 2025-02-24) or on its items (2025-03-31+);
 * - `invoice.subscription` (older) or `invoice.parent.subscription_details.subscription` (newer).
 */
type Obj = Record<string, unknown>;

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An id field that may be a string or an expanded object `{ id }`. */
export function idOf(value: unknown): string | null {
  if (typeof value === 'string' && value.length > 0) return value;
  if (isObj(value) && typeof value.id === 'string' && value.id.length > 0) return value.id;
  return null;
}

export function requireObject(object: unknown, kind: string, eventType: string): Obj {
  if (!isObj(object)) throw new InvalidEventError(`${eventType}: data.object is missing`);
  if (object.object !== kind) {
    throw new InvalidEventError(`${eventType}: data.object is a ${String(object.object)}, expected ${kind}`);
  }
  if (typeof object.id !== 'string' || object.id.length === 0) {
    throw new InvalidEventError(`${eventType}: the ${kind} has no id`);
  }
  return object;
}

const fromSeconds = (value: unknown): Date | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? new Date(value * 1000) : undefined;

/** The subscription's period end: top-level (older API versions) or the latest of its items'. */
export function subscriptionPeriodEnd(subscription: Obj): Date | undefined {
  const topLevel = fromSeconds(subscription.current_period_end);
  if (topLevel) return topLevel;
  const items = isObj(subscription.items) && Array.isArray(subscription.items.data) ? subscription.items.data : [];
  let latest: Date | undefined;
  for (const item of items) {
    const end = isObj(item) ? fromSeconds(item.current_period_end) : undefined;
    if (end && (!latest || end > latest)) latest = end;
  }
  return latest;
}

/** The invoice's subscription id in either shape, and the subscription's metadata snapshot. */
export function invoiceSubscription(invoice: Obj): { subscriptionId: string | null; metadata: Obj } {
  const parent = isObj(invoice.parent) ? invoice.parent : undefined;
  if (parent && isObj(parent.subscription_details)) {
    const details = parent.subscription_details;
    return { subscriptionId: idOf(details.subscription), metadata: isObj(details.metadata) ? details.metadata : {} };
  }
  const legacyDetails = isObj(invoice.subscription_details) ? invoice.subscription_details : {};
  return {
    subscriptionId: idOf(invoice.subscription),
    metadata: isObj(legacyDetails.metadata) ? legacyDetails.metadata : {},
  };
}

export interface BillingMetadata {
  userId: number | null;
  /** In the catalog, else `unknown`; `undefined` when the metadata has no plan key. */
  planSlug: string | undefined;
  /** `monthly`/`yearly`, else `monthly`; `undefined` when the metadata has no period key. */
  period: string | undefined;
}

/** Reads `<prefix>user_id`, `<prefix>plan_slug`, `<prefix>period` under the catalog rules. */
export function billingMetadata(metadata: unknown, config: BillingConfig): BillingMetadata {
  const md = isObj(metadata) ? metadata : {};
  const get = (key: string) => {
    const value = md[`${config.metadataPrefix}${key}`];
    return typeof value === 'string' ? value.trim() : undefined;
  };
  const rawUserId = get('user_id');
  const userId = rawUserId && /^\d{1,9}$/.test(rawUserId) ? Number(rawUserId) : null;
  const rawPlan = get('plan_slug')?.toLowerCase();
  const rawPeriod = get('period');
  return {
    userId,
    planSlug: rawPlan === undefined ? undefined : config.planSlugs.includes(rawPlan) ? rawPlan : 'unknown',
    period: rawPeriod === undefined ? undefined : normalisePeriod(rawPeriod),
  };
}

/** `monthly`/`yearly` as given; otherwise the price's interval; otherwise `monthly`. */
export function normalisePeriod(period: string | undefined, interval?: string): string {
  const value = period?.toLowerCase();
  if (value === 'monthly' || value === 'yearly') return value;
  if (value === undefined && interval === 'year') return 'yearly';
  return 'monthly';
}

/** The recurring interval of the subscription's first item's price (`month`, `year`…). */
export function subscriptionInterval(subscription: Obj): string | undefined {
  const items = isObj(subscription.items) && Array.isArray(subscription.items.data) ? subscription.items.data : [];
  const first = items[0];
  const price = isObj(first) && isObj(first.price) ? first.price : undefined;
  const recurring = price && isObj(price.recurring) ? price.recurring : undefined;
  return typeof recurring?.interval === 'string' ? recurring.interval : undefined;
}

/** Lower-cased, trimmed, non-empty emails in order, without repeats. */
export function normaliseEmails(...candidates: unknown[]): string[] {
  const emails: string[] = [];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const email = candidate.trim().toLowerCase();
    if (email.includes('@') && !emails.includes(email)) emails.push(email);
  }
  return emails;
}

export { isObj };
