import { isStripeEventId, type EventQueue, type JobSigner, type StripeEventJobData, type StripeEventJobResult } from '@billing/queue';
import type { Job } from 'bullmq';
import { parseFlags } from './script-flags';
import { UsageError } from './usage-error';

type EventJob = Job<StripeEventJobData, StripeEventJobResult, string>;

export type ReplaySelector = { all: true } | { type: string } | { id: string };

export interface ReplayArgs {
  selector: ReplaySelector;
  dryRun: boolean;
}

export const REPLAY_USAGE = `usage: npm run replay -- (--all | --type <event type> | --id <evt_…>) [--dry-run]

Moves failed jobs back to waiting with their attempt counts reset, so each gets the full
retry schedule again (Bull Board's Retry button gives only one more attempt).
  --all            every failed job
  --type <type>    failed jobs of one event type, e.g. invoice.payment_failed
  --id <evt_…>     one job, by Stripe event id
  --dry-run        list what would be retried; change nothing
A job the worker cannot verify (queued before jobs were signed, or signed with a key since
retired; needs QUEUE_SIGNING_KEY to tell) is listed, not retried: its event must come again
from Stripe ("Resend" in the dashboard, or npm run backfill).`;

/** Parses `npm run replay -- …` arguments; throws a `UsageError` naming the problem. */
export function parseReplayArgs(argv: string[]): ReplayArgs {
  const values = parseFlags(argv, {
    all: { type: 'boolean' },
    type: { type: 'string' },
    id: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  const chosen = [
    values.all ? '--all' : undefined,
    values.type !== undefined ? '--type' : undefined,
    values.id !== undefined ? '--id' : undefined,
  ].filter((v): v is string => v !== undefined);
  if (chosen.length !== 1) {
    throw new UsageError(chosen.length === 0 ? 'say which failed jobs: --all, --type or --id' : `choose one of ${chosen.join(', ')}`);
  }
  const dryRun = values['dry-run'] === true;
  if (values.all) return { selector: { all: true }, dryRun };
  if (values.type !== undefined) {
    const type = values.type.trim();
    if (!/^[a-z0-9_.]+$/.test(type))
      throw new UsageError(`--type ${JSON.stringify(values.type)} is not an event type such as invoice.paid`);
    return { selector: { type }, dryRun };
  }
  const id = (values.id ?? '').trim();
  if (!isStripeEventId(id)) throw new UsageError(`--id ${JSON.stringify(values.id)} is not a Stripe event id (evt_…)`);
  return { selector: { id }, dryRun };
}

export interface FailedJobSummary {
  id: string;
  type: string;
  /** The event's `created` (seconds). */
  created: number | undefined;
  attemptsMade: number;
  failedReason: string;
  /** When it failed for good (ms). */
  failedAt: number | undefined;
}

export interface ReplayReport {
  selector: ReplaySelector;
  dryRun: boolean;
  /** Failed jobs that matched, oldest event first. */
  matched: FailedJobSummary[];
  /** Ids moved back to waiting (empty on a dry run). */
  retried: string[];
  /** Jobs that were not retried, and why. */
  skipped: Array<{ id: string; reason: string }>;
}

/** Page size when reading the failed set. */
const PAGE = 500;

/** What to do with a failed job whose data the worker cannot verify: get the event again from Stripe. */
export const UNVERIFIABLE_HINT =
  'retrying it would only fail again; get the event again from Stripe: "Resend" it in the dashboard (or let Stripe retry), or npm run backfill -- --since <its date>';

/**
 * Moves the selected failed jobs back to waiting, resetting `attemptsMade` and
 * `attemptsStarted` so each gets the full attempts/backoff schedule again. Oldest event first.
 * A job that stopped being failed meanwhile (retried by someone else) is skipped, not an error.
 * With `signer` (`QUEUE_SIGNING_KEY`), a job whose data the worker would refuse — queued before
 * jobs were signed, or signed with a key since retired — is not retried: the report says so and
 * what to do instead (its event must come again from Stripe, verified and signed anew).
 */
export async function replayFailed(queue: EventQueue, args: ReplayArgs, signer?: JobSigner): Promise<ReplayReport> {
  const report: ReplayReport = { selector: args.selector, dryRun: args.dryRun, matched: [], retried: [], skipped: [] };
  const selected = await selectFailed(queue, args.selector, report);
  const jobs: EventJob[] = [];
  for (const job of selected) {
    const verified = signer?.verify(job.data);
    if (verified && !verified.ok) {
      report.skipped.push({ id: String(job.id), reason: `cannot be verified (${verified.reason}): ${UNVERIFIABLE_HINT}` });
    } else {
      jobs.push(job);
    }
  }
  jobs.sort((a, b) => (a.data?.created ?? 0) - (b.data?.created ?? 0) || (a.finishedOn ?? 0) - (b.finishedOn ?? 0));
  report.matched = jobs.map(summarize);
  if (args.dryRun) return report;

  for (const job of jobs) {
    const id = String(job.id);
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      report.retried.push(id);
    } catch (error) {
      const state = await queue.getJobState(id).catch(() => 'unknown');
      report.skipped.push({ id, reason: `not retried (now ${state}): ${(error as Error).message}` });
    }
  }
  return report;
}

async function selectFailed(queue: EventQueue, selector: ReplaySelector, report: ReplayReport): Promise<EventJob[]> {
  if ('id' in selector) {
    const job = await queue.getJob(selector.id);
    if (!job) {
      report.skipped.push({ id: selector.id, reason: 'no such job in the queue (removed, or never received: see npm run backfill)' });
      return [];
    }
    const state = await job.getState();
    if (state !== 'failed') {
      report.skipped.push({ id: selector.id, reason: `is ${state}, not failed` });
      return [];
    }
    return [job];
  }
  // Read the whole failed set before changing it: retrying while paging would shift the offsets.
  const selected: EventJob[] = [];
  for (let start = 0; ; start += PAGE) {
    // Entries can be undefined when a job was removed between the range read and the fetch.
    const page = (await queue.getJobs(['failed'], start, start + PAGE - 1, true)).filter((job): job is EventJob => Boolean(job));
    for (const job of page) {
      if ('all' in selector || job.name === selector.type) selected.push(job);
    }
    if (page.length < PAGE) return selected;
  }
}

function summarize(job: EventJob): FailedJobSummary {
  return {
    id: String(job.id),
    type: job.name,
    created: typeof job.data?.created === 'number' ? job.data.created : undefined,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason ?? '',
    failedAt: job.finishedOn,
  };
}

/** The lines `npm run replay` prints. */
export function formatReplayReport(report: ReplayReport, now = Date.now()): string {
  const what =
    'all' in report.selector
      ? 'failed jobs'
      : 'type' in report.selector
        ? `failed ${report.selector.type} jobs`
        : `job ${report.selector.id}`;
  const lines: string[] = [];
  if (report.matched.length === 0 && report.skipped.length === 0) lines.push(`No ${what}: nothing to replay.`);
  if (report.matched.length > 0) {
    lines.push(`${report.matched.length} ${report.dryRun ? 'would be retried' : 'matched'} (${what}, oldest event first):`);
    for (const job of report.matched) {
      const age = job.failedAt === undefined ? '' : ` failed ${ago(now - job.failedAt)} ago`;
      lines.push(`  ${job.id}  ${job.type}  attempts ${job.attemptsMade}${age}: ${oneLine(job.failedReason)}`);
    }
  }
  for (const { id, reason } of report.skipped) lines.push(`  ${id}  skipped: ${reason}`);
  if (report.dryRun && report.matched.length > 0) {
    lines.push(`Dry run: nothing changed. Run again without --dry-run to retry ${report.matched.length}.`);
  } else if (report.matched.length > 0) {
    lines.push(
      `Retried ${report.retried.length} of ${report.matched.length}: back in waiting with attempt counts reset (full backoff schedule).`,
    );
  }
  return lines.join('\n');
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7_200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3_600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function oneLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}
