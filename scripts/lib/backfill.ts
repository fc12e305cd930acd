import { HANDLED_EVENT_TYPES } from '@billing/billing';
import type { Database, Sql } from '@billing/db/client';
import { webhookEvents } from '@billing/db/schema';
import { jobPayload } from '@billing/billing/job-payload';
import { enqueueEvent, invalidEventReason, type EventQueue, type JobSigner, type QueueStore, type StripeEvent } from '@billing/queue';
import { and, inArray, ne } from 'drizzle-orm';
import type Stripe from 'stripe';
import {
  finishRun,
  ownerOfEvent,
  recordPage,
  startRun,
  withRateLimitBackoff,
  withRunLease,
  type BackoffOptions,
  type RunState,
} from '@billing/reconcile';
import { parseFlags } from './script-flags';
import { UsageError } from './usage-error';

/** Stripe keeps events for this long; `events.list` returns nothing older. */
export const STRIPE_EVENT_RETENTION_DAYS = 30;

const DAY_MS = 86_400_000;
const UNIT_MS = { m: 60_000, h: 3_600_000, d: DAY_MS, w: 7 * DAY_MS } as const;

export const BACKFILL_USAGE = `usage: npm run backfill -- --since <ISO date | duration> [--dry-run]

Lists the events we handle from the Stripe Events API since then, and enqueues the ones that
are neither in the webhook_events ledger nor already in the queue; a job of such an event that
failed for good takes the fetched event and is queued again with fresh attempts.
  --since <when>   2026-05-01, 2026-05-01T08:00:00Z, or a duration back from now: 90m, 6h, 2d, 1w
                   (at most ${STRIPE_EVENT_RETENTION_DAYS} days: Stripe keeps events for ${STRIPE_EVENT_RETENTION_DAYS} days)
  --dry-run        count and list; enqueue nothing
Needs STRIPE_SECRET_KEY (a restricted key with read access to Events is enough).`;

/** Parses `--since`: an ISO date/time, or a duration back from `now`. Refuses the future and anything past the 30-day window. */
export function parseSince(input: string, now: Date = new Date()): Date {
  const text = input.trim();
  let since: Date;
  const duration = /^(\d+)\s*(m|h|d|w)$/i.exec(text);
  if (duration) {
    const unit = duration[2]!.toLowerCase() as keyof typeof UNIT_MS;
    since = new Date(now.getTime() - Number(duration[1]) * UNIT_MS[unit]);
  } else if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    // A bare date means midnight UTC, as Date.parse reads it.
    since = new Date(text.replace(' ', 'T'));
    const [year, month, day] = text.slice(0, 10).split('-').map(Number) as [number, number, number];
    const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (Number.isNaN(since.getTime()) || month < 1 || month > 12 || day < 1 || day > daysInMonth) {
      throw new UsageError(`--since ${JSON.stringify(input)} is not a valid date`);
    }
  } else {
    throw new UsageError(`--since ${JSON.stringify(input)} is neither an ISO date (2026-05-01) nor a duration (6h, 2d)`);
  }
  if (since.getTime() > now.getTime()) throw new UsageError(`--since ${since.toISOString()} is in the future`);
  const oldest = new Date(now.getTime() - STRIPE_EVENT_RETENTION_DAYS * DAY_MS);
  if (since.getTime() < oldest.getTime()) {
    throw new UsageError(
      `--since ${since.toISOString()} is older than Stripe's ${STRIPE_EVENT_RETENTION_DAYS}-day event window ` +
        `(the oldest start possible now is ${oldest.toISOString()}). Events older than that cannot be fetched; ` +
        `reconcile those subscriptions from the Subscriptions API instead.`,
    );
  }
  return since;
}

export interface BackfillArgs {
  since: Date;
  dryRun: boolean;
  /** Only this customer's events (reconcile's `--customer`). */
  customer?: string;
}

export function parseBackfillArgs(argv: string[], now: Date = new Date()): BackfillArgs {
  const values = parseFlags(argv, { since: { type: 'string' }, 'dry-run': { type: 'boolean' } });
  if (values.since === undefined) throw new UsageError('--since is required');
  return { since: parseSince(values.since, now), dryRun: values['dry-run'] === true };
}

/** One page of the Events API listing: its handled events (one customer's with `customer`), and the cursor after it. */
export interface EventsPage {
  events: Stripe.Event[];
  /** The last id of the page as Stripe returned it (`starting_after` for the next); undefined for an empty page. */
  cursor: string | undefined;
  hasMore: boolean;
}

/**
 * The handled events created at or after `since`, a page at a time as the API lists them (newest
 * first, 100 a page, `starting_after` from `cursor`), each page oldest first. One customer's with
 * `customer` (the Events API has no such filter: the rest are dropped here). A 429 is waited out
 * (`Retry-After`) and the page asked again.
 */
export async function* handledEventPages(
  stripe: Stripe,
  since: Date,
  options: { customer?: string; backoff?: BackoffOptions; cursor?: string } = {},
): AsyncGenerator<EventsPage> {
  for (let cursor = options.cursor; ;) {
    const page = await withRateLimitBackoff(
      () =>
        stripe.events.list({
          created: { gte: Math.floor(since.getTime() / 1000) },
          types: [...HANDLED_EVENT_TYPES],
          limit: 100,
          ...(cursor !== undefined && { starting_after: cursor }),
        }),
      options.backoff,
    );
    const kept =
      options.customer === undefined
        ? page.data
        : page.data.filter((e) => ownerOfEvent(e as unknown as StripeEvent).customerId === options.customer);
    // Reversing keeps Stripe's order within one second (`created` has 1 s resolution); the stable
    // sort then only fixes anything the API returned out of order.
    const events = [...kept].reverse().sort((a, b) => a.created - b.created);
    cursor = page.data.at(-1)?.id;
    yield { events, cursor, hasMore: page.has_more && page.data.length > 0 };
    if (!page.has_more || page.data.length === 0) return;
  }
}

export interface BackfillReport {
  since: Date;
  dryRun: boolean;
  /** Events of handled types Stripe returned. */
  found: number;
  /** Already in the webhook_events ledger with a final outcome (anything but `unresolved`). */
  alreadyProcessed: number;
  /** Not in the ledger but a job with that id is queued (waiting, active, delayed, completed …). */
  alreadyQueued: Array<{ id: string; type: string; state: string }>;
  /** Not in the ledger and its job had failed for good: the job now holds the fetched event, signed now, and waits again. */
  retried: Array<{ id: string; type: string }>;
  /** Added to the queue now (on a dry run: would be). */
  enqueued: Array<{ id: string; type: string; created: number }>;
  /** Returned by Stripe but not a valid event to queue (should not happen). */
  invalid: Array<{ id: string; reason: string }>;
  /** A stopped run was resumed: the pages it had done before (counted there, not here). */
  resumedAfterPages?: number;
}

export interface BackfillDeps {
  stripe: Stripe;
  db: Database;
  store: QueueStore;
  queue: EventQueue;
  /** Signs each event as the ingress does (`QUEUE_SIGNING_KEY`): events from the API, fetched with our key, are trusted as Stripe-signed ones are. */
  signer: JobSigner;
  /** How 429s are waited out. @defaultValue `withRateLimitBackoff`'s */
  backoff?: BackoffOptions;
  /** A pool: with it (and not a dry run) each page's cursor is kept in `reconcile_runs`, so a killed run resumes. */
  sql?: Sql;
  /** Called after each page is done (tests stop a run here). */
  afterPage?: (report: BackfillReport) => void | Promise<void>;
}

/**
 * Ids among `ids` already in the ledger with a final outcome. An `unresolved` row is not final:
 * its user may exist now, and the worker re-applies it when its job is queued again.
 */
async function processedIds(db: Database, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 1_000) {
    const chunk = ids.slice(i, i + 1_000);
    const rows = await db
      .select({ id: webhookEvents.stripeEventId })
      .from(webhookEvents)
      .where(and(inArray(webhookEvents.stripeEventId, chunk), ne(webhookEvents.outcome, 'unresolved')));
    for (const row of rows) found.add(row.id);
  }
  return found;
}

/**
 * A page at a time (the API's, newest page first, each page oldest first):
 * 1. lists the page's handled events since `since` from Stripe;
 * 2. drops those already in the ledger;
 * 3. enqueues the rest through the queue contract (`enqueueEvent`: job id = event id), which
 *    also tells which were already queued (the ingress got them; the worker has not finished), and
 *    gives a job that failed for good the fetched event (verified by the API, signed now: a job
 *    refused for its old or unsigned data runs again) with fresh attempts.
 * With `deps.sql` (and not a dry run) each page's cursor is kept in `reconcile_runs` once it is
 * done: a killed backfill started again resumes after its last page, with its own `since`. The
 * lifecycle rules make the enqueue order irrelevant; the report lists oldest first.
 */
export async function backfill(deps: BackfillDeps, args: BackfillArgs): Promise<BackfillReport> {
  if (!deps.sql || args.dryRun) return backfillPages(deps, args, undefined);
  // One run per scope at a time: two would take turns on one cursor.
  const scope = `events${args.customer ? `:${args.customer}` : ''}`;
  return withRunLease(deps.sql, 'events', scope, async () =>
    backfillPages(deps, args, await startRun(deps.sql!, 'events', scope, true, { since: args.since })),
  );
}

async function backfillPages(deps: BackfillDeps, args: BackfillArgs, run: RunState | undefined): Promise<BackfillReport> {
  const since = run?.since ?? args.since;
  const report: BackfillReport = {
    since,
    dryRun: args.dryRun,
    found: 0,
    alreadyProcessed: 0,
    alreadyQueued: [],
    retried: [],
    enqueued: [],
    invalid: [],
    ...(run?.resumed && { resumedAfterPages: run.pages }),
  };
  const pages = handledEventPages(deps.stripe, since, {
    ...(args.customer !== undefined && { customer: args.customer }),
    ...(deps.backoff && { backoff: deps.backoff }),
    ...(run?.cursor && { cursor: run.cursor }),
  });
  for await (const page of pages) {
    await enqueuePage(deps, args, page.events, report);
    if (run) await recordPage(deps.sql!, run, { cursor: page.cursor ?? null, drifts: [], skipped: [], repaired: [] });
    await deps.afterPage?.(report);
  }
  if (run) await finishRun(deps.sql!, run);
  report.enqueued.sort((a, b) => a.created - b.created);
  return report;
}

async function enqueuePage(deps: BackfillDeps, args: BackfillArgs, events: Stripe.Event[], report: BackfillReport): Promise<void> {
  const done = await processedIds(
    deps.db,
    events.map((e) => e.id),
  );
  report.found += events.length;
  for (const event of events) {
    if (done.has(event.id)) {
      report.alreadyProcessed += 1;
      continue;
    }
    const reason = invalidEventReason(event);
    if (reason) {
      report.invalid.push({ id: String(event.id), reason });
      continue;
    }
    const data = jobPayload(deps.signer, event as unknown as StripeEvent);
    if (args.dryRun) {
      const state = await deps.queue.getJobState(event.id);
      if (state === 'unknown') report.enqueued.push({ id: event.id, type: event.type, created: event.created });
      else if (state === 'failed') report.retried.push({ id: event.id, type: event.type });
      else report.alreadyQueued.push({ id: event.id, type: event.type, state });
      continue;
    }
    const { outcome } = await enqueueEvent(deps.store, deps.queue, data, { timeoutMs: 10_000, retryFailed: true });
    if (outcome === 'added') report.enqueued.push({ id: event.id, type: event.type, created: event.created });
    else if (outcome === 'retried') report.retried.push({ id: event.id, type: event.type });
    else report.alreadyQueued.push({ id: event.id, type: event.type, state: await deps.queue.getJobState(event.id) });
  }
}

/** The lines `npm run backfill` prints. */
export function formatBackfillReport(report: BackfillReport): string {
  const lines = [
    ...(report.resumedAfterPages !== undefined
      ? [`Resumed a stopped backfill after its ${report.resumedAfterPages} page(s) (counted then, not below).`]
      : []),
    `Stripe events since ${report.since.toISOString()} of the ${HANDLED_EVENT_TYPES.length} handled types:`,
    `  found              ${report.found}`,
    `  already processed  ${report.alreadyProcessed}   (in the webhook_events ledger)`,
    `  already queued     ${report.alreadyQueued.length}   (in the queue, not yet in the ledger)`,
    `  ${report.dryRun ? 'would retry   ' : 'retried      '}      ${report.retried.length}   (their jobs had failed for good: ${report.dryRun ? 'would take' : 'given'} the fetched event, queued again)`,
    `  ${report.dryRun ? 'would enqueue ' : 'enqueued     '}      ${report.enqueued.length}`,
  ];
  if (report.invalid.length > 0) lines.push(`  invalid            ${report.invalid.length}   (not queued)`);
  for (const r of report.retried.slice(0, 20)) lines.push(`  ${report.dryRun ? 'would retry' : 'retried'} ${r.id}  ${r.type}`);
  if (report.retried.length > 20) lines.push(`  … and ${report.retried.length - 20} more retried`);
  for (const e of report.enqueued.slice(0, 50)) {
    lines.push(`  ${report.dryRun ? 'would enqueue' : 'enqueued'} ${e.id}  ${e.type}  created ${new Date(e.created * 1000).toISOString()}`);
  }
  if (report.enqueued.length > 50) lines.push(`  … and ${report.enqueued.length - 50} more`);
  for (const i of report.invalid) lines.push(`  invalid ${i.id}: ${i.reason}`);
  if (report.dryRun) lines.push('Dry run: nothing enqueued.');
  return lines.join('\n');
}
