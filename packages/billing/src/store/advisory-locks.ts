import { jsonb } from './sql-text';

/**
 * The transaction-scoped advisory locks every writer of billing rows takes before it reads them:
 * the worker's batches and `npm run erase`. One key per subscription and per customer touched.
 */

export interface LockScope {
  subscriptionIds: readonly string[];
  customerIds: readonly string[];
}

/** The key strings: `subscription:<id>` and `customer:<id>`, without repeats, sorted. */
export function lockKeys(scope: LockScope): string[] {
  return [
    ...new Set([...scope.subscriptionIds.map((id) => `subscription:${id}`), ...scope.customerIds.map((id) => `customer:${id}`)]),
  ].sort();
}

/**
 * The statement that takes them: each key hashed with `hashtextextended(key, 0)` and the locks
 * taken in hash order, so two writers never wait on each other in a cycle. Transaction-scoped
 * (`pg_advisory_xact_lock`): released at commit or rollback, safe behind a transaction-mode
 * pooler, unlike session locks.
 */
export function advisoryLockStatement(keys: readonly string[]): string {
  return `select pg_advisory_xact_lock(k) from (select distinct hashtextextended(x, 0) as k from jsonb_array_elements_text(${jsonb(keys)}) as x order by k) as keys`;
}
