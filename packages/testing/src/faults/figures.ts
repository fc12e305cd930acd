import type { Sql } from '@billing/db/client';
import type { AppProcess } from '@billing/testing/processes';
import { logLines } from './fleet';

/** The figures every fault scenario reports: what was sent, what the ingress acknowledged, what the worker applied. */
export interface Figures {
  /** Distinct events sent. */
  sent: number;
  /** Distinct events answered 200 at least once (Stripe considers them delivered). */
  acknowledged: number;
  /** Acknowledged events with a processed ledger row (`applied`, `stale` or `ignored`). */
  applied: number;
  /** Events whose effects were written more than once (ledger rows, transition rows or committed runs > 1). */
  appliedTwice: number;
  /** Acknowledged events never processed. */
  lost: number;
  /** Ledger outcomes of the sent events. */
  outcomes: Record<string, number>;
  lostIds: string[];
  twiceIds: string[];
}

/**
 * Measures the figures from Postgres (ledger and transitions) and, when given, the worker logs:
 * a worker logs `event processed` with the outcome after each commit, `duplicate` when the
 * ledger already had the event, so two non-duplicate lines for one id mean it committed twice.
 */
export async function measureFigures(
  sql: Sql,
  input: { sent: Iterable<string>; acknowledged: Iterable<string>; workers?: readonly AppProcess[] },
): Promise<Figures> {
  const sent = new Set(input.sent);
  const acknowledged = new Set(input.acknowledged);
  // One ledger row per event at most (a unique key): an event applied twice shows as a second
  // transition row or a second commit in the workers' logs, counted below.
  const ledger = await sql<Array<{ stripe_event_id: string; outcome: string }>>`select stripe_event_id, outcome from webhook_events`;
  const transitions = await sql<Array<{ stripe_event_id: string }>>`
    select stripe_event_id from subscription_transitions group by stripe_event_id having count(*) > 1`;

  const processed = new Set<string>();
  const twice = new Set<string>(transitions.map((t) => t.stripe_event_id));
  const outcomes: Record<string, number> = {};
  for (const row of ledger) {
    if (row.outcome !== 'unresolved') processed.add(row.stripe_event_id);
    if (sent.has(row.stripe_event_id)) outcomes[row.outcome] = (outcomes[row.outcome] ?? 0) + 1;
  }
  const commits = new Map<string, number>();
  for (const worker of input.workers ?? []) {
    for (const line of logLines(worker)) {
      // `unresolved` wrote only its ledger row, which a later run may take again: not an application.
      if (line.msg !== 'event processed' || line.outcome === 'duplicate' || line.outcome === 'unresolved') continue;
      const id = String(line.eventId);
      commits.set(id, (commits.get(id) ?? 0) + 1);
    }
  }
  for (const [id, count] of commits) if (count > 1) twice.add(id);

  const lostIds = [...acknowledged].filter((id) => !processed.has(id));
  return {
    sent: sent.size,
    acknowledged: acknowledged.size,
    applied: [...acknowledged].filter((id) => processed.has(id)).length,
    appliedTwice: twice.size,
    lost: lostIds.length,
    outcomes,
    lostIds,
    twiceIds: [...twice],
  };
}

/** The one-line figure summary each scenario prints. */
export function figureLine(
  scenario: string,
  figures: Pick<Figures, 'sent' | 'acknowledged' | 'applied' | 'appliedTwice' | 'lost'>,
  extra: Record<string, unknown> = {},
): string {
  const details = Object.entries(extra)
    .map(([key, value]) => `${key}=${typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)}`)
    .join(' ');
  return (
    `[fault] ${scenario}: sent ${figures.sent} / acknowledged ${figures.acknowledged} / applied ${figures.applied} / ` +
    `applied twice ${figures.appliedTwice} / acknowledged but not applied ${figures.lost}${details ? ` | ${details}` : ''}`
  );
}
