import { setTimeout } from 'node:timers/promises';
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Sql } from '@billing/db/client';
import { historyDifferences, ledgerOutcomes, prepareHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { deliveryLanes, deliverySchedule, withCollisions } from '@billing/stripe-simulator/delivery-schedule';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { applyAccessClock, applyEvents } from './apply-events';
import { defaultBillingConfig } from './config';
import { hostContractBreaches } from './host-contract.fixture';

/**
 * docs/design.md's promise, as a property: once every event of a history has been delivered — in any
 * order, with any duplicates, with neighbouring changes in one second, concurrently, several per
 * transaction — the rows equal Stripe's final objects and the user's status follows from them; and
 * the host application contract holds (`hostContractBreaches`): every change told once, in order,
 * from what was told before, nothing lost, one `ended` per ended subscription, the last access row
 * agreeing with `billing_access`, and the access Stripe's final objects grant. Time moves on while
 * the events arrive (each batch decides access at the clock's time) and the access clock runs beside
 * the deliveries, then once more later. A failure prints fast-check's seed and path;
 * `PROPERTY_RUNS` sets the runs per history.
 */

let t: TestDatabase;
/** One connection per concurrent lane, and one for the access clock. */
let lanes: Sql[];
let clockConnection: Sql;
beforeAll(async () => {
  t = await createTestDatabase('corpus_property');
  lanes = [t.connection(), t.connection(), t.connection()];
  clockConnection = t.connection();
});
afterAll(async () => {
  await t?.drop();
});

const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
const RUNS = Number(process.env.PROPERTY_RUNS ?? 25);
const T0 = 1_790_000_000;
const DAY = 86_400;
const accessPolicy = { pastDueGraceSeconds: 7 * DAY };

const timing = fc.record({
  /**
   * When the deliveries start, from the history's first event: the corpus spans about 450 days;
   * half the runs start in its first 40, while trials, graces and scheduled cancellations still run.
   */
  start: fc.oneof(fc.integer({ min: -DAY, max: 40 * DAY }), fc.integer({ min: -DAY, max: 450 * DAY })),
  /** How far the clock moves after each batch. */
  tick: fc.integer({ min: 0, max: 2 * DAY }),
  /** When the clock runs last, after the deliveries. */
  later: fc.integer({ min: 0, max: 60 * DAY }),
});

describe.each(LIFECYCLE_CORPUS)('$name', (c) => {
  const length = c.build({ tag: 'probe', start: T0, user: { id: 1, email: 'probe@example.com' }, shape: c.shape ?? 'basil' }).events.length;

  test.prop([deliverySchedule(length), timing], { numRuns: RUNS })(
    'any delivery ends in Stripe’s final object, and the host is told each change once, in order',
    async (schedule, { start, tick, later }) => {
      const prepared = await prepareHistory(t.sql, c, T0);
      const history = withCollisions(prepared.built.events, schedule.collapse);
      prepared.built.events = history;
      let clock = T0 + start;
      const options = { accessPolicy, now: () => clock };
      let delivered = false;
      const deliveries = Promise.all(
        deliveryLanes(history, schedule).map(async (batches, lane) => {
          for (const batch of batches) {
            const { results } = await applyEvents(lanes[lane]!, batch, config, options);
            for (const result of results) if (result instanceof Error) throw result;
            clock += tick;
          }
        }),
      );
      const clockRuns = (async () => {
        while (!delivered) {
          await applyAccessClock(clockConnection, options);
          await setTimeout(10);
        }
      })();
      await deliveries.finally(() => (delivered = true));
      await clockRuns;
      clock += later;
      await applyAccessClock(clockConnection, options);

      expect(await historyDifferences(t.sql, prepared)).toEqual([]);
      const outcomes = [...(await ledgerOutcomes(t.sql, history)).values()];
      expect(outcomes.filter((o) => o === 'missing' || o === 'unresolved')).toEqual([]);
      expect(await hostContractBreaches(t.sql, prepared, clock)).toEqual([]);
    },
  );
});
