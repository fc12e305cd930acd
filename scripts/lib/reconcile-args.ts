import { parseSince, STRIPE_EVENT_RETENTION_DAYS } from './backfill';
import { parseFlags } from './script-flags';
import { UsageError } from './usage-error';

export const RECONCILE_USAGE = `usage: npm run reconcile -- [--since <ISO date | duration>] [--customer cus_…] [--repair] [--json]

Compares our tables with Stripe's API and reports drift by class (docs/operations.md "Reconcile"):
  events sweep  the handled events Stripe lists since --since that the webhook_events ledger lacks
                (backfill's code; with --repair they are enqueued through the signed path)
  state sweep   every subscription (status=all) against its row, field by field, and each user's
                derived status: missing_local, missing_remote, status, period, price_plan,
                cancellation, trial, user_status. Differences explained by events still queued
                are listed as skipped, not drift.
  --since <when>     the events sweep's window: 2026-05-01, or 90m, 6h, 2d, 1w back from now
                     (at most ${STRIPE_EVENT_RETENTION_DAYS} days, the default)
  --customer cus_…   only this customer's subscriptions, users and events
  --repair           apply each drifting subscription, fetched now, as a snapshot through the
                     lifecycle rules (ledger, transitions, outbox); enqueue the missing events
  --json             the report as JSON
Exit 0: no drift; 1: drift found (or repaired); 2: usage or another error.
A killed run resumes where it stopped when started again with the same flags.
Needs STRIPE_SECRET_KEY (a restricted key with read access to Events and Subscriptions is enough).`;

export interface ReconcileArgs {
  since: Date;
  customer?: string;
  repair: boolean;
  json: boolean;
}

export function parseReconcileArgs(argv: string[], now: Date = new Date()): ReconcileArgs {
  const values = parseFlags(argv, {
    since: { type: 'string' },
    customer: { type: 'string' },
    repair: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const customer = values.customer?.trim();
  if (customer !== undefined && !/^cus_[A-Za-z0-9]+$/.test(customer)) {
    throw new UsageError(`--customer ${JSON.stringify(values.customer)} is not a Stripe customer id (cus_…)`);
  }
  return {
    since: parseSince(values.since ?? `${STRIPE_EVENT_RETENTION_DAYS}d`, now),
    ...(customer !== undefined && { customer }),
    repair: values.repair === true,
    json: values.json === true,
  };
}
