export { applyEvent, unresolvedEventIds, type ApplyOptions, type ApplyResult } from './apply-event';
export { defaultBillingConfig, DEFAULT_METADATA_PREFIX, DEFAULT_PLAN_SLUGS, type BillingConfig } from './config';
export { decide, initialStatus, type Decision } from './decide';
export { HANDLED_EVENT_TYPES, handlers, intentOf, isHandled, type HandledEventType } from './handlers';
export type { StripeEvent } from './handlers/types';
export type { Intent, StatusRule, SubscriptionIntent } from './intent';
export { InvalidEventError } from './invalid-event-error';
export { billingMetadata, invoiceSubscription, subscriptionPeriodEnd } from './normalise';
