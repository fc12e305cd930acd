import { UnrecoverableError, type Job } from 'bullmq';
import { applyEvent, InvalidEventError, isHandled, unresolvedEventIds, type ApplyOptions, type BillingConfig } from '@billing/billing';
import type { Database } from '@billing/db/client';
import { invalidEventReason, type StripeEventJobData, type StripeEventJobResult } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

export interface ProcessorDeps {
  db: Database;
  config: BillingConfig;
  applyOptions?: ApplyOptions;
  metrics: WorkerMetrics;
  logger: Logger;
  /** The API version the Stripe SDK is pinned to; events rendered in another are counted. */
  sdkApiVersion: string;
  /** Runs these events' (completed) jobs again; returns how many were re-queued. */
  rerun: (eventIds: string[]) => Promise<number>;
}

/**
 * Parses the job and hands it to the billing domain. An event that is not valid for its type
 * fails at once (`UnrecoverableError`, reason readable in the dashboard); anything else throws
 * as is, so attempts and backoff apply.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { db, config, applyOptions, metrics, logger, sdkApiVersion, rerun } = deps;
  return async (job: Job<StripeEventJobData, StripeEventJobResult>): Promise<StripeEventJobResult> => {
    const event = job.data;
    const type = isHandled(event?.type) ? event.type : 'other';
    const invalid = invalidEventReason(event);
    if (invalid) {
      metrics.failures.inc({ type, kind: 'invalid' });
      throw new UnrecoverableError(`invalid event: ${invalid}`);
    }
    if (event.api_version && event.api_version !== sdkApiVersion) {
      metrics.apiVersionMismatch.inc({ api_version: event.api_version });
    }
    const stopTimer = metrics.duration.startTimer({ type });
    try {
      const result = await applyEvent(db, event, config, applyOptions);
      stopTimer();
      metrics.events.inc({ type, outcome: result.outcome });
      if (result.outcome !== 'duplicate') metrics.lag.observe(Math.max(0, Date.now() / 1000 - event.created));
      logger.info(
        {
          eventId: event.id,
          eventType: event.type,
          outcome: result.outcome,
          subscription: result.stripeSubscriptionId,
          ...(result.statusChange && { from: result.statusChange.from, to: result.statusChange.to }),
          attempt: job.attemptsMade + 1,
        },
        'event processed',
      );
      if (result.linkedCustomerId) {
        // Events of this customer that arrived before it was linked to a user can apply now.
        // The event itself is committed: a failure here must not fail (and so retry) its job,
        // whose next attempt would be a duplicate that links nothing.
        const customer = result.linkedCustomerId;
        let ids: string[] = [];
        try {
          ids = await unresolvedEventIds(db, customer);
          if (ids.length > 0) {
            const requeued = await rerun(ids);
            logger.info({ customer, unresolved: ids.length, requeued }, 're-running unresolved events of a newly linked customer');
          }
        } catch (error) {
          logger.error(
            { customer, unresolved: ids, err: error },
            'could not re-run unresolved events of a newly linked customer; recover them with npm run backfill',
          );
        }
      }
      return { outcome: result.outcome };
    } catch (error) {
      if (error instanceof InvalidEventError) {
        metrics.failures.inc({ type, kind: 'invalid' });
        throw new UnrecoverableError(error.message);
      }
      throw error;
    }
  };
}
