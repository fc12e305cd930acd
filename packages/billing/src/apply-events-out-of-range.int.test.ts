import { describe, expect, it } from 'vitest';
import type { Sql } from '@billing/db/client';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { T0, useApplyFixture } from './apply-events.fixture';
import { applyEvents } from './apply-events';
import { defaultBillingConfig } from './config';
import { InvalidEventError } from './invalid-event-error';

/**
 * A signed event carrying a number or a text no column holds (`created: 1e20` → 22003,
 * `current_period_end: 1e15` → 22008) failed its whole batch and then itself, retried for half an
 * hour. It is an invalid event: failed at once, and its neighbours commit in the one transaction
 * (issue 19, item 8).
 */
const { database, addUser, ledger } = useApplyFixture('apply_range');

/** A client of one connection that counts the messages sent on it (a transaction is two). */
function counted(connection: Sql): { client: Sql; messages: () => number } {
  let messages = 0;
  const client = Object.assign(((strings: TemplateStringsArray, ...values: never[]) => connection(strings, ...values)) as unknown as Sql, {
    options: connection.options,
    unsafe: (text: string) => {
      messages += 1;
      return connection.unsafe(text);
    },
  });
  return { client, messages: () => messages };
}

describe('out-of-range values', () => {
  it('fail their own event as invalid, at once; the rest of the batch commits in one transaction', async () => {
    await addUser('range@example.com', 'cus_range');
    const object = (id: string, fields: Record<string, unknown> = {}) => ({
      ...subscriptionObject({ id, customer: 'cus_range', status: 'active', shape: 'legacy' }),
      ...fields,
    });
    const good = event('customer.subscription.created', object('sub_range1'), { created: T0 });
    const farCreated = { ...event('customer.subscription.created', object('sub_range2')), created: 1e20 };
    const farPeriodEnd = event('customer.subscription.created', object('sub_range3', { current_period_end: 1e15 }), { created: T0 });
    const farCancel = event('customer.subscription.created', object('sub_range4', { cancel_at: 1e15 }), { created: T0 });
    const alsoGood = event('customer.subscription.created', object('sub_range5'), { created: T0 });
    const { client, messages } = counted(database().connection());

    const { results } = await applyEvents(client, [good, farCreated, farPeriodEnd, farCancel, alsoGood], defaultBillingConfig);
    expect(
      results.map((r) => (r instanceof InvalidEventError ? 'invalid' : r instanceof Error ? `error ${r.message}` : r.outcome)),
    ).toEqual(['applied', 'invalid', 'invalid', 'invalid', 'applied']);
    expect(messages()).toBe(2);
    expect((await ledger()).map((r) => r.stripeEventId).sort()).toEqual([good.id, alsoGood.id].sort());
  });
});
