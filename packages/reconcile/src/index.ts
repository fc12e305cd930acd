export { compareSubscriptions, compareUsers, fieldDrifts, type Comparison } from './compare';
export {
  DRIFT_CLASSES,
  remoteSubscription,
  type Drift,
  type DriftClass,
  type RemoteSubscription,
  type SkippedDrift,
  type StoredSubscription,
  type StoredUser,
} from './drift';
export { NO_PENDING_WORK, ownerOfEvent, PENDING_STATES, pendingReason, pendingWorkOf, type PendingWork } from './pending-work';
export { isRateLimited, retryAfterMs, withRateLimitBackoff, type BackoffOptions } from './rate-limit';
