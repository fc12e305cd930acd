import type { Database } from '@billing/db/client';
import type { EventQueue, JobSigner, QueueStore } from '@billing/queue';
import type { EraseArgs } from './erase-args';
import { eraseDatabase, findPerson, type DatabaseErased } from './erase-database';
import { eraseJobs, jobsOfPerson, PENDING_STATES, planJobs, scanJobOwners, type JobOwner, type JobsErased } from './erase-jobs';

export interface EraseDeps {
  db: Database;
  store: QueueStore;
  queue: EventQueue;
  /** Signs re-written jobs as the ingress does (`QUEUE_SIGNING_KEY`); needed with `--force` only. */
  signer?: JobSigner;
}

export interface EraseReport {
  args: EraseArgs;
  /** The person's customer ids: their user's, their subscriptions', those of checkout jobs carrying the email. */
  customers: string[];
  /** The person's jobs, in the state each was seen in. */
  jobs: JobOwner[];
  /** Set when nothing was erased because some of the person's events are still to be applied. */
  deferred: JobOwner[] | undefined;
  database: DatabaseErased | undefined;
  jobsErased: JobsErased | undefined;
}

const STILL_TO_APPLY: ReadonlySet<string> = new Set([...PENDING_STATES, 'active']);

/**
 * 1. finds the person: user rows and customer ids in Postgres, then every job in the queue of one of
 *    those customers or carrying the email (whose customer ids join the rest);
 * 2. while any of their events is still to be applied, stops there (unless `force`): applied
 *    after the erasure, such an event would find nobody and never reach the billing record —
 *    a waiting `customer.subscription.deleted` would leave the subscription active for good;
 * 3. the billing tables first, in one transaction, then the queue (so an interrupted run, run again, still
 *    finds the customer ids in the jobs).
 */
export async function erasePerson(deps: EraseDeps, args: EraseArgs): Promise<EraseReport> {
  const rows = await findPerson(deps.db, args.person);
  const owners = await scanJobOwners(deps.queue);
  const email = 'email' in args.person ? args.person.email : undefined;
  const customers = new Set(rows.customers);
  for (const o of owners) if (email !== undefined && o.customer !== null && o.emails.includes(email)) customers.add(o.customer);
  const jobs = jobsOfPerson(owners, customers, email);
  const report: EraseReport = { args, customers: [...customers], jobs, deferred: undefined, database: undefined, jobsErased: undefined };

  const pending = jobs.filter((j) => STILL_TO_APPLY.has(j.state));
  if (pending.length > 0 && !args.force) {
    report.deferred = pending;
    return report;
  }
  report.database = await eraseDatabase(deps.db, { userIds: rows.userIds, customers: report.customers }, args.dryRun);
  if (args.dryRun) {
    report.jobsErased = planJobs(jobs, args.force);
  } else {
    if (args.force && !deps.signer) throw new Error('--force needs QUEUE_SIGNING_KEY to re-sign waiting jobs');
    report.jobsErased = await eraseJobs(
      deps.store,
      deps.queue,
      jobs,
      [...(email ? [email] : []), ...report.customers],
      args.force ? deps.signer : undefined,
    );
  }
  return report;
}

/** Whether the run left anything of the person behind that a second run can take (exit code 1). */
export function incomplete(report: EraseReport): boolean {
  const erased = report.jobsErased;
  const left = erased ? erased.skipped.length + erased.resigned.length + erased.pendingLeft.length : 0;
  return !report.args.dryRun && (report.deferred !== undefined || left > 0);
}

/** The lines `npm run erase` prints: one per kind of thing. */
export function formatEraseReport(report: EraseReport): string {
  const { args, database, jobsErased: jobs } = report;
  const who = 'email' in args.person ? `--email ${args.person.email}` : `--customer ${args.person.customer}`;
  const lines = [`erase ${who}: customers ${report.customers.join(', ') || '(none)'}${args.dryRun ? ' (dry run)' : ''}`];
  if (report.deferred) {
    lines.push(
      `Not erased: ${report.deferred.length} of this person's events are still to be applied, and billing needs them applied first:`,
    );
    for (const j of report.deferred) lines.push(`  ${j.id}  ${j.type}  ${j.state}`);
    lines.push('Nothing changed. Run erase again once they completed (npm run explain shows their state),');
    lines.push('or with --force to erase now: waiting jobs lose their emails and are re-signed; their events will end unresolved.');
    return lines.join('\n');
  }
  if (!database || !jobs) return lines.join('\n');
  const { host } = database;
  const nothing =
    database.users === 0 &&
    database.subscriptions.length === 0 &&
    database.ledger === 0 &&
    host.outbox + host.access + host.entitlements === 0 &&
    report.jobs.length === 0;
  if (nothing) {
    lines.push(`Nothing matched: no user, subscription, ledger row or job of ${who.replace('--', '')}; nothing changed.`);
    return lines.join('\n');
  }
  const done = (verb: string) => (args.dryRun ? `to be ${verb}` : verb);
  const subscriptionIds = database.subscriptions.length > 0 ? `: ${database.subscriptions.join(', ')}` : '';
  lines.push(
    `users: ${database.users} ${done('unlinked')} ` +
      "(stripe_customer_id and subscription_status cleared; deleting the row is the host application's job)",
    `subscriptions: ${database.subscriptions.length} ${done('unlinked')} ` +
      `(user_id and stripe_customer_id cleared; the billing rows stay)${subscriptionIds}`,
    `ledger: ${database.ledger} rows ${done('cleared')} ` +
      '(stripe_customer_id and the stored unresolved event; event id, type and outcome stay)',
    `host contract: ${host.outbox} outbox rows, ${host.access} access decisions, ${host.entitlements} entitlements summaries ${done('deleted')}`,
    `jobs: ${jobs.removed.completed.length} completed ${done('removed')}, ${jobs.removed.failed.length} failed ${done('removed')}, ` +
      `${jobs.resigned.length} waiting ${done('re-signed')} without email, ${jobs.skipped.length} skipped`,
  );
  for (const id of jobs.removed.failed) lines.push(`  failed ${id}: ${done('removed')}; its event was never applied to billing`);
  const again = `run erase --customer ${report.customers[0] ?? '…'} again once it completed`;
  for (const id of jobs.resigned)
    lines.push(`  ${id}: re-signed without the emails; it will end unresolved, its ledger row naming the customer: ${again}`);
  for (const id of jobs.pendingLeft)
    lines.push(`  ${id}: still to be applied, holds no email; its ledger row will name the customer: ${again}`);
  for (const { id, reason } of jobs.skipped) lines.push(`  ${id} skipped: ${reason}`);
  if (!args.dryRun && jobs.streamEntries > 0) lines.push(`queue event stream: ${jobs.streamEntries} entries naming the person deleted`);
  lines.push(args.dryRun ? 'Dry run: nothing changed.' : incomplete(report) ? 'Incomplete: run erase again as said above.' : 'Done.');
  return lines.join('\n');
}
