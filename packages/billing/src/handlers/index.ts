import type { BillingConfig } from '../config';
import type { Intent } from '../intent';
import { idOf } from '../normalise';
import { checkoutSessionCompleted } from './checkout-session-completed';
import { invoiceSettled } from './invoice-settled';
import { subscriptionChanged } from './subscription-changed';
import { HANDLED_EVENT_TYPES, type HandledEventType, type Handler, type StripeEvent } from './types';

export { HANDLED_EVENT_TYPES, type HandledEventType, type Handler };

/** One handler per event type; a missing one is a compile error. */
export const handlers: Record<HandledEventType, Handler> = {
  'checkout.session.completed': checkoutSessionCompleted,
  'customer.subscription.created': subscriptionChanged(),
  'customer.subscription.updated': subscriptionChanged(),
  'customer.subscription.deleted': subscriptionChanged('canceled'),
  'invoice.payment_succeeded': invoiceSettled({ kind: 'recover' }),
  'invoice.paid': invoiceSettled({ kind: 'recover' }),
  'invoice.payment_failed': invoiceSettled({ kind: 'past_due' }),
};

export function isHandled(type: string): type is HandledEventType {
  return Object.hasOwn(handlers, type);
}

/** The intent of any event: handled types through their handler, the rest `ignore`. */
export function intentOf(event: StripeEvent, config: BillingConfig): Intent {
  if (isHandled(event.type)) return handlers[event.type](event, config);
  const object = event.data?.object as Record<string, unknown> | undefined;
  return {
    kind: 'ignore',
    reason: `no handler for ${event.type}`,
    subscriptionId: object?.object === 'subscription' ? idOf(object.id) : idOf(object?.subscription),
    customerId: idOf(object?.customer),
  };
}
