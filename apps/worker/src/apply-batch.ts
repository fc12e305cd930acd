import { applyEvents, type ApplyResult } from '@billing/billing';
import { isThinEvent, type StripeEvent, type ThinEvent } from '@billing/queue';
import type { ProcessorDeps } from './processor';
import { resolveThinEvents, ThinFetchRateLimitedError, thinObjectKind } from './thin-events';

/** A job's result: the ledger's outcome, and for a thin event recorded `ignored`, why. */
export type QueuedResult = ApplyResult & { reason?: string };

/**
 * What the worker does with one batch — the events of concurrently active jobs (the batcher's
 * `apply`): thin events become the events their fetched objects imply (one request per object
 * named); the rest are applied by the billing domain's `applyEvents` in one transaction on a
 * connection of its own, abandoned with that connection when it outlives `batchTimeoutMs`; what
 * the commit produced is handed on — outbox ids to the relay, re-applied `unresolved` events to
 * the log, payload-less ones to `rerun`, incomplete entitlement summaries to their alert.
 * Resolves with each event's result or error, in the batch's order.
 */
export function createBatchApplier(deps: ProcessorDeps): (items: Array<StripeEvent | ThinEvent>) => Promise<Array<QueuedResult | Error>> {
  const { config, applyOptions, metrics, logger, sdkApiVersion, rerun } = deps;
  const idle = [...deps.connections];
  const batchTimeoutMs = deps.batchTimeoutMs ?? 30_000;
  /** Applies a batch on a connection of its own; a batch past `batchTimeoutMs` is abandoned with its connection. */
  const applyOnConnection = async (events: StripeEvent[]) => {
    const connection = idle.pop()!;
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BatchStalledError(batchTimeoutMs)), batchTimeoutMs);
    });
    const applying = applyEvents(connection, events, config, applyOptions);
    try {
      const batch = await Promise.race([applying, stalled]);
      idle.push(connection);
      return batch;
    } catch (error) {
      if (!(error instanceof BatchStalledError)) {
        idle.push(connection);
        throw error;
      }
      applying.catch(() => {}); // settles, rejected, once its connection is ended
      void connection.end({ timeout: 0 }).catch(() => {});
      idle.push(deps.reconnect(connection));
      logger.warn({ events: events.length, timeoutMs: batchTimeoutMs }, 'a batch stalled on its connection: abandoned, its events go back');
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };

  /** Each object fetched once per batch: counted by the first thin event that named it. */
  const countThinFetches = (items: Array<StripeEvent | ThinEvent>, resolved: Array<StripeEvent | Error>, ignored: Map<number, string>) => {
    const seen = new Set<string>();
    for (const [index, item] of items.entries()) {
      if (!isThinEvent(item) || !item.related_object) continue;
      const kind = thinObjectKind(item.type);
      const key = `${kind}:${item.related_object.id}`;
      if (kind === undefined || item.related_object.type !== kind || seen.has(key)) continue;
      seen.add(key);
      const outcome = resolved[index];
      const result =
        outcome instanceof ThinFetchRateLimitedError
          ? 'rate_limited'
          : outcome instanceof Error
            ? 'error'
            : ignored.has(index)
              ? 'missing'
              : 'ok';
      metrics.thinFetches.inc({ kind, result });
    }
  };

  // Rows recorded before the ledger kept their event: their jobs are the only copy left. The
  // events that found their customer are committed; a failure here is logged, not thrown.
  const rerunStored = async (ids: string[]) => {
    try {
      const requeued = await rerun(ids);
      logger.info({ unresolved: ids, requeued }, 're-running unresolved events recorded without their payload');
    } catch (error) {
      logger.error({ unresolved: ids, err: error }, 'could not re-run unresolved events; recover them with npm run backfill');
    }
  };

  return async (items) => {
    // Thin events become the events their fetched objects imply (one request per object named).
    const thin = await resolveThinEvents(items, deps.fetchThinObject, sdkApiVersion);
    const toApply: Array<{ index: number; event: StripeEvent }> = [];
    const results: Array<QueuedResult | Error> = new Array(items.length);
    for (const [index, resolved] of thin.events.entries()) {
      if (resolved instanceof Error) results[index] = resolved;
      else toApply.push({ index, event: resolved });
    }
    if (thin.fetches > 0) countThinFetches(items, thin.events, thin.ignored);
    if (toApply.length === 0) return results;
    const events = toApply.map((t) => t.event);
    metrics.batchSize.observe(events.length);
    const batch = await applyOnConnection(events);
    for (const [position, { index }] of toApply.entries()) {
      const result = batch.results[position]!;
      const reason = thin.ignored.get(index);
      results[index] = reason !== undefined && !(result instanceof Error) ? { ...result, reason } : result;
    }
    if (batch.outboxIds.length > 0) deps.onOutbox?.(batch.outboxIds);
    for (const [eventId, result] of batch.reapplied) {
      metrics.events.inc({ type: 'reapplied', outcome: result.outcome });
      logger.info(
        { eventId, outcome: result.outcome, subscription: result.subscriptionId, customer: result.customerId },
        'unresolved event applied: its customer is known now',
      );
    }
    if (batch.withoutEvent.length > 0) void rerunStored(batch.withoutEvent);
    if (batch.incompleteEntitlements.length > 0) {
      metrics.entitlementsIncomplete.inc(batch.incompleteEntitlements.length);
      logger.warn(
        { summaries: batch.incompleteEntitlements, alert: 'entitlements_incomplete' },
        'entitlements summary stored incomplete: it said has_more and the rest was not fetched (set STRIPE_SECRET_KEY)',
      );
    }
    return results;
  };
}

/** A batch's transaction outlived `batchTimeoutMs`: its connection answers no more (a connection failure, not the events'). */
export class BatchStalledError extends Error {
  override name = 'BatchStalledError';
  /** Classified like postgres-js's own connection errors (`isConnectionError`). */
  readonly code = 'CONNECTION_STALLED';
  constructor(timeoutMs: number) {
    super(`the batch's transaction did not finish within ${timeoutMs} ms: its connection answers no more`);
  }
}
