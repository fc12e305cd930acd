/**
 * The batch transaction is sent as two messages of the simple query protocol, each holding
 * several statements: the server takes a message whole or not at all and stops at its first
 * error, no statement is prepared (safe behind any pooler), and no statement of one round trip
 * can end up on another connection than its neighbours. Values travel as JSON literals that
 * the statements unpack with `jsonb_to_recordset` / `jsonb_array_elements_text`.
 */

/** A JSON value as a `jsonb` literal (standard-conforming strings: only `'` needs doubling). */
export function jsonb(value: unknown): string {
  return `'${JSON.stringify(value).replace(/'/g, "''")}'::jsonb`;
}

/** The elements of a JSON array of strings, as a subquery. */
export function textElements(values: readonly unknown[]): string {
  return `select jsonb_array_elements_text(${jsonb(values)})`;
}

/** The transaction-local marker of a batch: set after `begin`, checked before the writes. */
export function setTransactionToken(token: string): string {
  return `select set_config('billing.batch', ${literal(token)}, true) as token`;
}

/**
 * Fails the message (and so skips every statement after it) unless it runs inside the batch's
 * own transaction: on a connection that reconnected, the writes would otherwise autocommit.
 */
export function requireTransactionToken(token: string): string {
  return `do $$ begin
    if current_setting('billing.batch', true) is distinct from ${literal(token)} then
      raise exception 'billing: the batch transaction was lost (connection changed)' using errcode = '40003';
    end if;
  end $$`;
}

function literal(text: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new TypeError('sql-text: a token is letters, digits, - and _');
  return `'${text}'`;
}
