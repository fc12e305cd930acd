import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyDifferences, ledgerOutcomes, prepareHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { applyEvent } from './apply-events';
import { defaultBillingConfig } from './config';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('corpus');
});
afterAll(async () => {
  await t?.drop();
});

const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
const T0 = 1_790_000_000;

describe.each(LIFECYCLE_CORPUS)('$name', (c) => {
  it.each([
    ['in the order Stripe emitted it', (n: number) => Array.from({ length: n }, (_, i) => i)],
    ['in reverse order', (n: number) => Array.from({ length: n }, (_, i) => n - 1 - i)],
  ])('%s: the row equals Stripe’s final object', async (_order, indices) => {
    const prepared = await prepareHistory(t.sql, c, T0);
    const { events } = prepared.built;
    const connection = t.connection();
    for (const i of indices(events.length)) await applyEvent(connection, events[i]!, config);
    expect(await historyDifferences(t.sql, prepared)).toEqual([]);
    expect([...(await ledgerOutcomes(t.sql, events)).values()].filter((o) => o === 'missing' || o === 'unresolved')).toEqual([]);
  });
});
