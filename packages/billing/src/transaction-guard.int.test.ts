import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sql } from '@billing/db/client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { applyEvents, CommitFailedError } from './apply-events';
import { defaultBillingConfig } from './config';

/**
 * What the batch transaction does when what lies between it and Postgres misbehaves: a pooler
 * whose COMMIT reaches an aborted transaction (answers ROLLBACK, no error), and a reconnect that
 * would run the writes on another connection, outside the transaction.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('tx_guard');
  await t.sql`insert into users (email, stripe_customer_id) values ('guard@example.com', 'cus_guard')`;
});
afterAll(async () => {
  await t?.drop();
});

/** A client of one connection whose second message (the writes) goes where `route` says. */
function routed(first: Sql, route: (text: string) => Promise<unknown>): Sql {
  let messages = 0;
  const client = ((strings: TemplateStringsArray, ...values: never[]) => first(strings, ...values)) as unknown as Sql;
  return Object.assign(client, {
    options: first.options,
    unsafe: (text: string) => (++messages === 1 ? first.unsafe(text) : route(text)),
  });
}

const created = () => event('customer.subscription.created', subscriptionObject({ id: `sub_guard${Date.now()}`, customer: 'cus_guard' }));
const ledgerRows = async (id: string) => (await t.sql`select outcome from webhook_events where stripe_event_id = ${id}`).length;

describe('the batch transaction', () => {
  it('fails the events when COMMIT answers ROLLBACK, and nothing of them is committed', async () => {
    const connection = t.connection();
    // The writes reach an aborted transaction (as behind a transaction-mode pooler): the server
    // skips them and answers the COMMIT with ROLLBACK, raising no error.
    const client = routed(connection, async (text) => {
      await connection.unsafe('select 1/0').catch(() => {});
      return connection.unsafe(text.slice(text.lastIndexOf(';') + 1));
    });
    const e = created();
    const { results } = await applyEvents(client, [e], defaultBillingConfig);
    expect(results[0]).toBeInstanceOf(CommitFailedError);
    expect((results[0] as Error).message).toBe('COMMIT answered ROLLBACK: the transaction did not commit');
    expect(await ledgerRows(e.id)).toBe(0);
  });

  it('refuses to write on another connection than the one that began the transaction', async () => {
    const connection = t.connection();
    const other = t.connection();
    const e = created();
    const { results } = await applyEvents(
      routed(connection, (text) => other.unsafe(text)),
      [e],
      defaultBillingConfig,
    );
    expect(results[0]).toMatchObject({ code: '40003', message: 'billing: the batch transaction was lost (connection changed)' });
    expect(await ledgerRows(e.id)).toBe(0);
    expect((await t.sql`select 1 from subscriptions where stripe_subscription_id = ${e.data.object.id as string}`).length).toBe(0);
    // The same event then applies normally.
    const { results: again } = await applyEvents(connection, [e], defaultBillingConfig);
    expect(again[0]).toMatchObject({ outcome: 'applied' });
  });
});
