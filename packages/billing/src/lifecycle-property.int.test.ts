import { test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Sql } from '@billing/db/client';
import { historyDifferences, ledgerOutcomes, prepareHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { deliveryLanes, deliverySchedule, withCollisions } from '@billing/stripe-simulator/delivery-schedule';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { applyEvents } from './apply-events';
import { defaultBillingConfig } from './config';

/**
 * docs/design.md's promise, as a property: once every event of a history has been delivered — in any
 * order, with any duplicates, with neighbouring changes in one second, concurrently, several per
 * transaction — the rows equal Stripe's final objects and the user's status follows from them.
 * A failure prints fast-check's seed and path; `PROPERTY_RUNS` sets the runs per history.
 */

let t: TestDatabase;
/** One connection per concurrent lane. */
let lanes: Sql[];
beforeAll(async () => {
  t = await createTestDatabase('corpus_property');
  lanes = [t.connection(), t.connection(), t.connection()];
});
afterAll(async () => {
  await t?.drop();
});

const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 25);
const T0 = 1_790_000_000;

describe.each(LIFECYCLE_CORPUS)('$name', (c) => {
  const length = c.build({ tag: 'probe', start: T0, user: { id: 1, email: 'probe@example.com' }, shape: c.shape ?? 'basil' }).events.length;

  test.prop([deliverySchedule(length)], { numRuns: RUNS })('any delivery ends in Stripe’s final object', async (schedule) => {
    const prepared = await prepareHistory(t.sql, c, T0);
    const history = withCollisions(prepared.built.events, schedule.collapse);
    prepared.built.events = history;
    await Promise.all(
      deliveryLanes(history, schedule).map(async (batches, lane) => {
        for (const batch of batches) {
          const { results } = await applyEvents(lanes[lane]!, batch, config);
          for (const result of results) if (result instanceof Error) throw result;
        }
      }),
    );
    expect(await historyDifferences(t.sql, prepared)).toEqual([]);
    const outcomes = [...(await ledgerOutcomes(t.sql, history)).values()];
    expect(outcomes.filter((o) => o === 'missing' || o === 'unresolved')).toEqual([]);
  });
});
