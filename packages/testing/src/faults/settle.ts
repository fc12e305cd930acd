import type { Sql } from '@billing/db/client';
import type { EventQueue } from '@billing/queue';
import { setTimeout as sleep } from 'node:timers/promises';

/** Job states that mean "still to be processed". */
const PENDING = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export async function pendingJobs(queue: EventQueue): Promise<number> {
  const counts = await queue.getJobCounts(...PENDING);
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

export interface Settled {
  settled: boolean;
  ms: number;
  /** Why waiting stopped early (`stopIf`'s answer), e.g. the worker died. */
  stopped?: string;
}

/**
 * Waits (bounded) until every id in `ids` has a processed ledger row and the queue has nothing
 * pending. Does not throw on timeout: the scenario's figures then show what is missing.
 * `stopIf` ends the wait early with its reason when nothing can progress any more (a dead worker).
 */
export async function waitForSettled(
  sql: Sql,
  queue: EventQueue,
  ids: readonly string[],
  timeoutMs: number,
  stopIf: () => string | undefined = () => undefined,
): Promise<Settled> {
  const started = performance.now();
  const list = [...ids];
  for (;;) {
    const stopped = stopIf();
    if (stopped) return { settled: false, ms: Math.round(performance.now() - started), stopped };
    const [row] = await sql<Array<{ n: number }>>`
      select count(*)::int as n from webhook_events where stripe_event_id = any(${list}) and outcome <> 'unresolved'`;
    if ((row?.n ?? 0) >= list.length && (await pendingJobs(queue)) === 0) {
      return { settled: true, ms: Math.round(performance.now() - started) };
    }
    if (performance.now() - started > timeoutMs) return { settled: false, ms: Math.round(performance.now() - started) };
    await sleep(100);
  }
}

export async function ledgerCount(sql: Sql): Promise<number> {
  const [row] = await sql<Array<{ n: number }>>`select count(*)::int as n from webhook_events`;
  return row?.n ?? 0;
}
