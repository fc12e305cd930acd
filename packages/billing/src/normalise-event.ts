import type { StripeEvent } from '@billing/queue';
import type { BillingConfig } from './config';
import { InvalidEventError } from './invalid-event-error';
import type { Hint, LifecycleEvent, NormalisedEvent } from './lifecycle-input';
import { billingMetadata, normaliseEmails } from './metadata';
import { isTerminal } from './statuses';
import { idOf, isObject, requireObject, type StripeObject } from './stripe-object';
import { assertStorable } from './storable-event';
import { subscriptionSnapshot } from './subscription-snapshot';

/** Snapshots: each carries the whole subscription as it was at the event's `created` time. */
const SNAPSHOT_TYPES = [
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.paused',
  'customer.subscription.resumed',
  'customer.subscription.trial_will_end',
  'customer.subscription.pending_update_applied',
  'customer.subscription.pending_update_expired',
] as const;

/** Hints: events about something else that imply a status. */
const HINT_TYPES = ['checkout.session.completed', 'invoice.payment_failed', 'invoice.payment_succeeded', 'invoice.paid'] as const;

/** A customer's active features (Stripe Entitlements): a snapshot per customer, not per subscription. */
const ENTITLEMENTS_SUMMARY = 'entitlements.active_entitlement_summary.updated';

/** The event types with an effect; every other type is recorded as `ignored`. */
export const HANDLED_EVENT_TYPES = [...SNAPSHOT_TYPES, ...HINT_TYPES, ENTITLEMENTS_SUMMARY] as const;
export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

type Normaliser = (event: StripeEvent, config: BillingConfig) => NormalisedEvent;

const snapshot: Normaliser = (event, config) => {
  const subscription = requireObject(event.data.object, 'subscription', event.type);
  // Deleted events carry the subscription's terminal status: `canceled`, or `incomplete_expired` for
  // an incomplete subscription that expired. Any other is forced to `canceled`, in case an older
  // API version sent the status from before the deletion.
  const status =
    event.type === 'customer.subscription.deleted' && !(typeof subscription.status === 'string' && isTerminal(subscription.status))
      ? 'canceled'
      : subscription.status;
  if (typeof status !== 'string' || status.length === 0) throw new InvalidEventError(`${event.type}: the subscription has no status`);
  const customerId = idOf(subscription.customer);
  const metadata = billingMetadata(subscription.metadata, config);
  return {
    ...envelope(event),
    subscriptionId: subscription.id,
    customerId,
    user: { customerId, metadataUserId: metadata.userId, emails: [] },
    input: subscriptionSnapshot(subscription, event.data.previous_attributes, config, status),
  };
};

const invoice =
  (hint: 'payment_failed' | 'paid'): Normaliser =>
  (event, config) => {
    const object = requireObject(event.data.object, 'invoice', event.type);
    const customerId = idOf(object.customer);
    const { subscriptionId, metadata } = invoiceSubscription(object);
    if (!subscriptionId) return { ...envelope(event), subscriptionId, customerId, ignored: 'invoice without a subscription' };
    const billing = billingMetadata(metadata, config);
    return {
      ...envelope(event),
      subscriptionId,
      customerId,
      user: { customerId, metadataUserId: billing.userId, emails: [] },
      input: hintOf(hint, billing, hint === 'payment_failed' && object.billing_reason === 'subscription_create'),
    };
  };

const checkout: Normaliser = (event, config) => {
  const session = requireObject(event.data.object, 'checkout.session', event.type);
  const customerId = idOf(session.customer);
  const subscriptionId = idOf(session.subscription);
  if (session.mode !== 'subscription') {
    return { ...envelope(event), subscriptionId, customerId, ignored: `checkout in ${String(session.mode)} mode` };
  }
  if (!subscriptionId) throw new InvalidEventError(`${event.type}: subscription-mode checkout without a subscription id`);
  const metadata = billingMetadata(session.metadata, config);
  const details = isObject(session.customer_details) ? session.customer_details : {};
  return {
    ...envelope(event),
    subscriptionId,
    customerId,
    user: { customerId, metadataUserId: metadata.userId, emails: normaliseEmails(session.customer_email, details.email) },
    input: hintOf('checkout', metadata, false),
  };
};

const entitlementsSummary: Normaliser = (event) => {
  const summary = event.data.object;
  if (!isObject(summary) || summary.object !== 'entitlements.active_entitlement_summary') {
    throw new InvalidEventError(`${event.type}: data.object is not an entitlements.active_entitlement_summary`);
  }
  const customerId = idOf(summary.customer);
  if (!customerId) throw new InvalidEventError(`${event.type}: the summary names no customer`);
  const list = summary.entitlements;
  if (!isObject(list) || !Array.isArray(list.data)) throw new InvalidEventError(`${event.type}: the summary has no entitlements list`);
  const lookupKeys = list.data.map((entitlement: unknown) => {
    const key = isObject(entitlement) ? entitlement.lookup_key : undefined;
    if (typeof key !== 'string' || key.length === 0) throw new InvalidEventError(`${event.type}: an entitlement has no lookup_key`);
    return key;
  });
  return { ...envelope(event), subscriptionId: null, customerId, lookupKeys: sortedKeys(lookupKeys), hasMore: list.has_more === true };
};

/** Lookup keys as stored: sorted, without repeats (a set of features, whatever order a page lists them in). */
export function sortedKeys(keys: Iterable<string>): string[] {
  return [...new Set(keys)].sort();
}

/** One normaliser per handled type; a missing one is a compile error. */
const normalisers: Record<HandledEventType, Normaliser> = {
  ...(Object.fromEntries(SNAPSHOT_TYPES.map((type) => [type, snapshot])) as Record<(typeof SNAPSHOT_TYPES)[number], Normaliser>),
  'checkout.session.completed': checkout,
  'invoice.payment_failed': invoice('payment_failed'),
  'invoice.payment_succeeded': invoice('paid'),
  'invoice.paid': invoice('paid'),
  [ENTITLEMENTS_SUMMARY]: entitlementsSummary,
};

export function isHandled(type: unknown): type is HandledEventType {
  return typeof type === 'string' && Object.hasOwn(normalisers, type);
}

/**
 * The event as the lifecycle rules read it: a snapshot or a hint about one subscription, or an
 * event to record as `ignored`. Pure; throws `InvalidEventError` for an event not valid for its type,
 * or carrying a value no column of the rules holds (`assertStorable`).
 */
export function normaliseEvent(event: StripeEvent, config: BillingConfig): NormalisedEvent {
  if (typeof event.created !== 'number' || !Number.isFinite(event.created)) {
    throw new InvalidEventError(`${event.type}: created is not a number`);
  }
  const normalised = isHandled(event.type) ? normalisers[event.type](event, config) : unhandled(event);
  assertStorable(normalised);
  return normalised;
}

function unhandled(event: StripeEvent): NormalisedEvent {
  const object = isObject(event.data?.object) ? event.data.object : {};
  return {
    ...envelope(event),
    subscriptionId: object.object === 'subscription' ? idOf(object.id) : idOf(object.subscription),
    customerId: idOf(object.customer),
    ignored: `no handler for ${event.type}`,
  };
}

/** The invoice's subscription id in either shape, and the subscription's metadata as the invoice copied it. */
export function invoiceSubscription(invoice: StripeObject): { subscriptionId: string | null; metadata: StripeObject } {
  const parent = isObject(invoice.parent) ? invoice.parent : undefined;
  if (parent && isObject(parent.subscription_details)) {
    const details = parent.subscription_details;
    return { subscriptionId: idOf(details.subscription), metadata: isObject(details.metadata) ? details.metadata : {} };
  }
  const legacyDetails = isObject(invoice.subscription_details) ? invoice.subscription_details : {};
  return { subscriptionId: idOf(invoice.subscription), metadata: isObject(legacyDetails.metadata) ? legacyDetails.metadata : {} };
}

function envelope(event: StripeEvent): Pick<LifecycleEvent, 'id' | 'type' | 'created' | 'apiVersion'> {
  const apiVersion = typeof event.api_version === 'string' && event.api_version.length > 0 ? event.api_version : null;
  return { id: event.id, type: event.type, created: Math.floor(event.created), apiVersion };
}

function hintOf(hint: Hint['hint'], metadata: ReturnType<typeof billingMetadata>, firstInvoice: boolean): Hint {
  const plan: Hint['plan'] = {};
  if (metadata.planSlug !== undefined) plan.planSlug = metadata.planSlug;
  if (metadata.period !== undefined) plan.period = metadata.period;
  return { kind: 'hint', hint, plan, firstInvoice };
}
