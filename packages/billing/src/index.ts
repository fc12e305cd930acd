export {
  accessDecision,
  DEFAULT_ACCESS_POLICY,
  DEFAULT_PAST_DUE_GRACE_DAYS,
  NO_ACCESS,
  subscriptionGrant,
  type AccessDecision,
  type AccessPolicy,
  type SubscriptionGrant,
} from './access-policy';
export {
  applyAccessClock,
  applyEvent,
  applyEvents,
  CommitFailedError,
  sweepUnresolved,
  type AccessClockResult,
  type ApplyOptions,
  type ApplyResult,
  type BatchResult,
  type SweepResult,
} from './apply-events';
export { defaultBillingConfig, DEFAULT_METADATA_PREFIX, DEFAULT_PLAN_SLUGS, type BillingConfig } from './config';
export { InvalidEventError } from './invalid-event-error';
export { applyInput, type StepOutcome, type SubscriptionState } from './lifecycle';
export type { ChangedFrom, FetchedSnapshot, Hint, LifecycleEvent, NormalisedEvent, Snapshot, SubscriptionFacts } from './lifecycle-input';
export { billingMetadata } from './metadata';
export { HANDLED_EVENT_TYPES, invoiceSubscription, isHandled, normaliseEvent, type HandledEventType } from './normalise-event';
export { subscriptionPlan } from './plan';
export { reduceEvents, type Change, type Effects, type EventResult, type UserState, type World } from './reduce-events';
export { isResolvable, resolveUser, type ResolutionView } from './resolve-user';
export { MAX_SECONDS, MAX_TEXT_LENGTH } from './storable-event';
export { mostFavourable } from './statuses';
export { subscriptionFacts, subscriptionPeriodEnd, subscriptionSnapshot } from './subscription-snapshot';
export { isNewer as entitlementsSummaryIsNewer, type CustomerEntitlementsState } from './entitlements';
export { userSubject, type HostEffects, type OutboxEntry } from './host-effects';
export {
  publishedOf,
  statusType,
  subscriptionChanges,
  userChanges,
  type OutboxChange,
  type PublishedSubscription,
  type PublishedUser,
  type UserAccess,
} from './outbox-changes';
export { stateFromRow, SUBSCRIPTION_SELECT, type SubscriptionRow } from './store/subscription-columns';
export { OUTBOX_CHANNEL } from './store/write-effects';
export { advisoryLockStatement, lockKeys, type LockScope } from './store/advisory-locks';
export { customerIdHash } from './store/erased-customers';
