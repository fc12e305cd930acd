import { jobPayload } from '@billing/billing/job-payload';
import { enqueueEvent, type EventQueue, type JobSigner, type QueueStore, type StripeEvent } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

export interface RecoveryDeps {
  store: QueueStore;
  queue: EventQueue;
  /** Signs an event fetched from the Events API (trusted: fetched with our key) as the ingress would. */
  signer: JobSigner;
  logger: Logger;
  metrics: WorkerMetrics;
  /** The event from the Stripe Events API (30 days), when `STRIPE_SECRET_KEY` is set. */
  fetchEvent?: (eventId: string) => Promise<StripeEvent | undefined>;
}

/**
 * Brings back `unresolved` events recorded before the ledger kept them, now that their user can
 * be found: their job runs again (completed or failed: back to waiting), or — when it has left
 * the queue — the event is fetched from the Events API and queued again. What cannot be recovered is
 * logged at error level and counted, once per event and process. Resolves with how many run again.
 */
export function unresolvedRecovery(deps: RecoveryDeps): (eventIds: string[]) => Promise<number> {
  const { queue, logger, metrics } = deps;
  const reported = new Set<string>();
  return async (eventIds) => {
    let requeued = 0;
    for (const id of eventIds) {
      const job = await queue.getJob(id);
      if (job) {
        const state = await job.getState();
        if (state === 'completed' || state === 'failed') await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
        // Waiting, delayed or active: it runs (again) by itself.
        requeued += 1;
        continue;
      }
      const event = await deps.fetchEvent?.(id).catch((error: unknown) => {
        logger.warn({ eventId: id, err: error }, 'could not fetch an unresolved event from the Stripe Events API');
        return undefined;
      });
      if (event) {
        await enqueueEvent(deps.store, queue, jobPayload(deps.signer, event), { timeoutMs: 10_000, retryFailed: true });
        requeued += 1;
        continue;
      }
      if (reported.has(id)) continue;
      reported.add(id);
      metrics.unrecoverable.inc();
      logger.error(
        { eventId: id, alert: 'unresolved_event_unrecoverable' },
        `ALERT: an unresolved event's user is known now, but its job has left the queue and ${deps.fetchEvent ? 'the Events API does not have it' : 'STRIPE_SECRET_KEY is not set to fetch it'}; recover it with npm run backfill, or from Stripe's dashboard ("Resend")`,
      );
    }
    return requeued;
  };
}
