import type { BillingConfig } from '../config';
import type { Intent } from '../intent';

/** The event types with a lifecycle effect; every other type is recorded as `ignored`. */
export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'invoice.payment_succeeded',
  'invoice.paid',
  'invoice.payment_failed',
] as const;

export type HandledEventType = (typeof HANDLED_EVENT_TYPES)[number];

/** A pure function from the event to what it asks of the subscription; throws `InvalidEventError`. */
export type Handler = (event: StripeEvent, config: BillingConfig) => Intent;

/** The parts of a Stripe event the domain reads (the verified event JSON, as queued). */
export interface StripeEvent {
  id: string;
  type: string;
  /** Unix seconds; one-second resolution, so ties happen. */
  created: number;
  api_version?: string | null;
  data: { object: Record<string, unknown> };
}
