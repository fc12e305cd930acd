import type { Logger } from '@billing/runtime/logger';
import type { WorkerMetrics } from './metrics';

/**
 * Watches the API versions events arrive in: each counted by version
 * (`billing_worker_events_by_api_version`), and a version newer than the SDK's pinned one — which
 * the normaliser has not been tested with — logged once per process, with the alert name to find it by.
 */
export function apiVersionWatch(sdkApiVersion: string, metrics: WorkerMetrics, logger: Pick<Logger, 'warn'>): (apiVersion: string) => void {
  const warned = new Set<string>();
  return (apiVersion) => {
    metrics.eventsByApiVersion.inc({ api_version: apiVersion });
    if (apiVersion !== sdkApiVersion) metrics.apiVersionMismatch.inc({ api_version: apiVersion });
    if (!isNewerApiVersion(apiVersion, sdkApiVersion) || warned.has(apiVersion)) return;
    warned.add(apiVersion);
    logger.warn(
      { apiVersion, sdkApiVersion, alert: 'api_version_newer_than_sdk' },
      'events arrive in an API version newer than the Stripe SDK’s pinned one: the normaliser has not been tested with it (upgrade stripe, run the corpus)',
    );
  };
}

/** Stripe's versions are dated (`2026-10-28.endive`, `2024-06-20`): newer is a later date; on the same date, a different release name. */
export function isNewerApiVersion(version: string, than: string): boolean {
  const date = (v: string) => /^\d{4}-\d{2}-\d{2}/.exec(v)?.[0];
  const a = date(version);
  const b = date(than);
  if (a === undefined || b === undefined) return false;
  return a > b || (a === b && version !== than && version > than);
}
