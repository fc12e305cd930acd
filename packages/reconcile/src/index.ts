export { compareSubscriptions, compareUsers, fieldDrifts, type Comparison, type RemoteStatus } from './compare';
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
export { readPendingWork } from './pending-work';
export { REPAIR_EVENT_PREFIX, REPAIR_EVENT_TYPE, repairEvent, repairSubscriptions } from './repair';
export { finishRun, lastFullStateRun, recordPage, RunBusyError, startRun, withRunLease, type Repaired, type RunState } from './run-store';
export { stateSweep, type StateSweepDeps, type StateSweepOptions, type StateSweepReport } from './state-sweep';
export { parseInterval } from './interval';
