import type { ApplyOptions, BillingConfig } from '@billing/billing';
import type { Database, Sql } from '@billing/db/client';
import type { EventQueue, JobSigner, QueueStore } from '@billing/queue';
import { stateSweep, type StateSweepReport, type BackoffOptions } from '@billing/reconcile';
import type Stripe from 'stripe';
import { backfill, type BackfillReport } from './backfill';
import type { ReconcileArgs } from './reconcile-args';
import { formatTable } from './table';

export interface ReconcileDeps {
  stripe: Stripe;
  db: Database;
  sql: Sql;
  /** One connection of its own for `applyEvents` (repairs). */
  connection: Sql;
  store: QueueStore;
  queue: EventQueue;
  signer: JobSigner;
  config: BillingConfig;
  applyOptions?: ApplyOptions;
  backoff?: BackoffOptions;
  afterPage?: (pages: number) => void | Promise<void>;
}

export interface ReconcileReport {
  args: ReconcileArgs;
  /** The events sweep (backfill's; a dry run without --repair), over --since, one customer's events with --customer. */
  events: BackfillReport & { missing: Array<{ id: string; type: string }> };
  state: StateSweepReport;
  /** 0: no drift; 1: drift found (or repaired). */
  exitCode: 0 | 1;
}

/**
 * `npm run reconcile`: the events sweep first (backfill's code: what it enqueues is pending work
 * then, so the state sweep skips the subscriptions it explains), then the state sweep.
 */
export async function reconcile(deps: ReconcileDeps, args: ReconcileArgs): Promise<ReconcileReport> {
  const events = await backfill(
    {
      stripe: deps.stripe,
      db: deps.db,
      sql: deps.sql,
      store: deps.store,
      queue: deps.queue,
      signer: deps.signer,
      ...(deps.backoff && { backoff: deps.backoff }),
    },
    { since: args.since, dryRun: !args.repair, ...(args.customer && { customer: args.customer }) },
  );
  const missing = [...events.enqueued, ...events.retried].map(({ id, type }) => ({ id, type }));
  const state = await stateSweep(
    {
      stripe: deps.stripe,
      sql: deps.sql,
      connection: deps.connection,
      queue: deps.queue,
      config: deps.config,
      ...(deps.applyOptions && { applyOptions: deps.applyOptions }),
      ...(deps.backoff && { backoff: deps.backoff }),
      ...(deps.afterPage && { afterPage: deps.afterPage }),
    },
    { repair: args.repair, ...(args.customer && { customer: args.customer }) },
  );
  const exitCode = state.drifts.length > 0 || missing.length > 0 ? 1 : 0;
  return { args, events: { ...events, missing }, state, exitCode };
}

const when = (seconds: number | null) => (seconds === null ? '—' : new Date(seconds * 1000).toISOString().replace('.000Z', 'Z'));

/** The report at a terminal: one line per drift (subscription, class, ours → Stripe's, our last event), then what was skipped and repaired. */
export function formatReconcileReport(report: ReconcileReport): string {
  const { state, events, args } = report;
  const lines: string[] = [];
  lines.push(
    `reconcile: ${state.drifts.length} drift${state.drifts.length === 1 ? '' : 's'} in the state sweep` +
      ` (${state.pages} page${state.pages === 1 ? '' : 's'}${state.resumed ? ', resumed a stopped run' : ''})` +
      `, ${events.missing.length} event${events.missing.length === 1 ? '' : 's'} missing from the ledger since ${args.since.toISOString()}` +
      (args.customer ? `, customer ${args.customer}` : ''),
  );
  if (state.drifts.length > 0) {
    lines.push(
      formatTable(
        'Drift',
        state.drifts.map((d) => ({
          subscription: d.subscriptionId,
          class: d.class,
          'ours → Stripe': `${d.ours ?? '—'} → ${d.stripe ?? '—'}`,
          'our last event': when(d.lastEventAt),
        })),
      ),
    );
    const counts = Object.entries(state.byClass).filter(([, n]) => n > 0);
    lines.push(`By class: ${counts.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  }
  if (state.skipped.length > 0) {
    lines.push(
      formatTable(
        'Skipped (explained by events still queued)',
        state.skipped.map((s) => ({ subscription: s.subscriptionId, class: s.class, reason: s.reason })),
      ),
    );
  }
  if (events.missing.length > 0) {
    lines.push(`Events missing from the ledger${args.repair ? ' (enqueued)' : ''}:`);
    for (const e of events.missing.slice(0, 50)) lines.push(`  ${e.id}  ${e.type}`);
    if (events.missing.length > 50) lines.push(`  … and ${events.missing.length - 50} more`);
  }
  if (args.repair) {
    const applied = state.repaired.filter((r) => r.outcome === 'applied');
    lines.push(`Repaired ${applied.length} subscription${applied.length === 1 ? '' : 's'} through the lifecycle rules`);
    for (const r of state.repaired) {
      const move = r.statusChange ? `  ${r.statusChange.from ?? '—'} → ${r.statusChange.to}` : '';
      lines.push(`  ${r.subscriptionId}  ${r.outcome}  ${r.eventId}${move}`);
    }
    const remote = state.drifts.filter((d) => d.class === 'missing_remote');
    if (remote.length > 0)
      lines.push(`Not repaired: ${remote.length} missing_remote (Stripe does not know them; see docs/operations.md "Reconcile")`);
  } else if (state.drifts.length > 0) {
    lines.push('Read-only: nothing changed. Run again with --repair to apply Stripe’s objects through the lifecycle rules.');
  }
  return lines.join('\n');
}

/** The report as JSON (`--json`). */
export function reconcileJson(report: ReconcileReport): string {
  const { state, events, args } = report;
  return JSON.stringify(
    {
      since: args.since.toISOString(),
      customer: args.customer ?? null,
      repair: args.repair,
      exit_code: report.exitCode,
      drift: state.drifts.map((d) => ({
        subscription: d.subscriptionId,
        customer: d.customerId,
        user_id: d.userId,
        class: d.class,
        ours: d.ours,
        stripe: d.stripe,
        last_event_at: d.lastEventAt === null ? null : when(d.lastEventAt),
      })),
      by_class: state.byClass,
      skipped: state.skipped.map((s) => ({ subscription: s.subscriptionId, class: s.class, reason: s.reason })),
      repaired: state.repaired.map((r) => ({
        subscription: r.subscriptionId,
        event: r.eventId,
        outcome: r.outcome,
        status_change: r.statusChange ?? null,
      })),
      events: {
        found: events.found,
        already_processed: events.alreadyProcessed,
        already_queued: events.alreadyQueued.length,
        missing: events.missing,
      },
      run: { id: state.runId, pages: state.pages, resumed: state.resumed },
    },
    null,
    2,
  );
}
