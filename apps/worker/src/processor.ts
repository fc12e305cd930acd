import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { InvalidEventError, isHandled, type ApplyOptions, type BillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import { isConnectionError } from '@billing/db/postgres-errors';
import {
  invalidEventReason,
  invalidThinEventReason,
  isThinEvent,
  type JobSigner,
  type StripeEvent,
  type StripeEventJobData,
  type StripeEventJobResult,
  type ThinEvent,
} from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import { scrubError } from '@billing/runtime/scrub-error';
import { createBatchApplier, type QueuedResult } from './apply-batch';
import { EventBatcher } from './event-batcher';
import { apiVersionWatch } from './api-versions';
import type { WorkerMetrics } from './metrics';
import { ThinFetchRateLimitedError, thinObjectKind, type ThinObjectFetcher } from './thin-events';

export interface BatchSettings {
  /** Most events per transaction. @defaultValue 50 */
  maxSize?: number;
  /** Longest an event waits for others to join its transaction. @defaultValue 2 */
  maxWaitMs?: number;
  /** Transactions at once (the worker opens a connection for each). @defaultValue 2 */
  maxInFlight?: number;
}

export interface ProcessorDeps {
  /** One client of one connection per transaction run at once. */
  connections: Sql[];
  /** A fresh client to replace one abandoned by a stalled batch (`batchTimeoutMs`). */
  reconnect: (abandoned: Sql) => Sql;
  /**
   * Longest a batch's transaction may take before it is abandoned as stalled — a connection that
   * stopped answering without closing (a frozen link holds a query forever, and the job's lock is
   * still renewed, so nothing else would ever take the job back): its connection is ended and
   * replaced, and its events go back like an outage's, without spending an attempt.
   * @defaultValue 30000
   */
  batchTimeoutMs?: number;
  /** Verifies that the ingress signed the job (`QUEUE_SIGNING_KEY`): only Stripe-signed events change billing state. */
  signer: JobSigner;
  config: BillingConfig;
  applyOptions?: ApplyOptions;
  metrics: WorkerMetrics;
  logger: Logger;
  /** The API version the Stripe SDK is pinned to; events rendered in another are counted. */
  sdkApiVersion: string;
  /** Runs these events' jobs again (stored `unresolved` events recorded without their payload); returns how many were re-queued. */
  rerun: (eventIds: string[]) => Promise<number>;
  batch?: BatchSettings;
  /** Fetches the object a thin event names (`STRIPE_SECRET_KEY`); without it, thin events fail with a reason. */
  fetchThinObject?: ThinObjectFetcher;
  /** Told the outbox ids of each committed batch (the relay writes their notification jobs). */
  onOutbox?: (outboxIds: number[]) => void;
  /** Told when Postgres is unreachable (the worker pauses and probes); without one, such a failure spends an attempt. */
  databaseLost?: (error: unknown) => void;
}

/** A job hit by an outage comes back after this long, without spending an attempt. */
const OUTAGE_DELAY_MS = 1_000;
/** …unless it has started this many times more than it failed: then it is the event itself (also bounds a thin event's 429s). */
const MAX_OUTAGE_RESTARTS = 100;

/**
 * The worker's processor: checks the job, hands the event to a batcher that applies the events
 * of concurrently active jobs in one transaction (the billing domain's `applyEvents`), and
 * resolves each job with its own outcome once that transaction committed. An event that is not
 * valid for its type fails at once (`UnrecoverableError`, reason readable in the dashboard); a
 * job that failed because Postgres is unreachable goes back to delayed without spending an
 * attempt (`DelayedError`) while the worker pauses; anything else throws scrubbed of query values
 * (`scrubError`: same class and code, BullMQ stores its message and stack), so attempts and backoff apply.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { metrics, logger, sdkApiVersion } = deps;
  const watchApiVersion = apiVersionWatch(sdkApiVersion, metrics, logger);
  const batcher = new EventBatcher<StripeEvent | ThinEvent, QueuedResult>({
    ...deps.batch,
    maxInFlight: deps.connections.length,
    apply: createBatchApplier(deps),
  });

  return async (job: Job<StripeEventJobData, StripeEventJobResult>, token?: string): Promise<StripeEventJobResult> => {
    const type = metricType(job.data?.type);
    // 1. Only a job the ingress signed (after verifying Stripe's signature) changes billing state.
    const verified = deps.signer.verify(job.data);
    if (!verified.ok) throw new UnrecoverableError(`refused: ${verified.reason}`);
    const queued: StripeEvent | ThinEvent = verified.event;
    const invalid = isThinEvent(queued) ? invalidThinEventReason(queued) : invalidEventReason(queued);
    if (invalid) throw new UnrecoverableError(`invalid event: ${invalid}`);
    if (!isThinEvent(queued) && typeof queued.api_version === 'string' && queued.api_version !== '') watchApiVersion(queued.api_version);
    const event = { id: queued.id, type: queued.type, created: createdSeconds(queued) };

    const stopTimer = metrics.duration.startTimer({ type });
    let result: QueuedResult;
    try {
      result = await batcher.submit(queued);
    } catch (error) {
      if (error instanceof InvalidEventError) throw new UnrecoverableError(error.message);
      if (error instanceof ThinFetchRateLimitedError && token && job.attemptsStarted - job.attemptsMade < MAX_OUTAGE_RESTARTS) {
        // Stripe's rate limit is not the event's failure: back to delayed, no attempt spent (bounded, as for an outage).
        metrics.thinRateLimited.inc();
        logger.warn({ eventId: event.id, eventType: event.type, retryInMs: error.retryAfterMs }, error.message);
        await job.moveToDelayed(Date.now() + error.retryAfterMs, token);
        throw new DelayedError();
      }
      if (deps.databaseLost && isConnectionError(error) && token && job.attemptsStarted - job.attemptsMade < MAX_OUTAGE_RESTARTS) {
        deps.databaseLost(scrubError(error));
        await job.moveToDelayed(Date.now() + OUTAGE_DELAY_MS, token);
        throw new DelayedError();
      }
      throw scrubError(error);
    } finally {
      stopTimer();
    }
    metrics.events.inc({ type, outcome: result.outcome });
    if (result.outcome !== 'duplicate') metrics.lag.observe(Math.max(0, Date.now() / 1000 - event.created));
    logger.info(
      {
        eventId: event.id,
        eventType: event.type,
        outcome: result.outcome,
        subscription: result.subscriptionId,
        ...('statusChange' in result && result.statusChange && { from: result.statusChange.from, to: result.statusChange.to }),
        ...(result.reason !== undefined && { reason: result.reason }),
        attempt: job.attemptsMade + 1,
      },
      'event processed',
    );
    return result.reason === undefined ? { outcome: result.outcome } : { outcome: result.outcome, reason: result.reason };
  };
}

/** Unix seconds of a snapshot event's `created`, or of a thin event's ISO time. */
function createdSeconds(event: StripeEvent | ThinEvent): number {
  return typeof event.created === 'number' ? event.created : Math.floor(Date.parse(event.created) / 1000);
}

/** The `type` label of the worker's metrics: a handled event type, else `other` (bounded cardinality). */
export function metricType(type: unknown): string {
  return isHandled(type) || (typeof type === 'string' && thinObjectKind(type) !== undefined) ? type : 'other';
}
