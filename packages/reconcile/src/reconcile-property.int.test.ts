// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import { fc, test } from '@fast-check/vitest';
import { applyEvents, defaultBillingConfig } from '@billing/billing';
import type { Sql } from '@billing/db/client';
import type { StripeEvent } from '@billing/queue';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { historyDifferences, prepareHistory, type PreparedHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { deliveryLanes, deliverySchedule } from '@billing/stripe-simulator/delivery-schedule';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { stateSweep } from './state-sweep';

/**
 * Reconcile's promise, as a property over the lifecycle corpus: deliver each history with events
 * dropped, duplicated and reordered; then
 * - without repair, the state sweep names exactly the subscriptions whose rows differ from Stripe's
 *   final objects (the oracle), and a user_status drift exactly when the user's status differs;
 * - with repair, every row equals the oracle's object and the user's status follows; a second run
 *   finds nothing.
 * The checkout of a history is never dropped: it is what links a person found by email to the
 * customer, which a subscription object cannot do (backfill brings it back). `PROPERTY_RUNS` sets the runs per history.
 */

const RUNS = Number(process.env.PROPERTY_RUNS ?? 8);
const DAY = 86_400;
const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };

let t: TestDatabase;
let connection: Sql;
let fake: FakeStripeApi;
beforeAll(async () => {
  t = await createTestDatabase('reconcile_property');
  connection = t.connection();
  fake = await startFakeStripeApi({ apiKeys: ['sk_test_property'] });
});
afterAll(async () => {
  await fake?.close();
  await t?.drop();
});

/** The subscriptions `historyDifferences` names (`sub_….field: …`, `sub_…: no row`), and whether it names the user's status. */
function differing(lines: string[]): { subscriptions: string[]; user: boolean } {
  const subscriptions = new Set<string>();
  for (const line of lines) if (line.startsWith('sub_')) subscriptions.add(line.split(/[.:]/)[0]!);
  return { subscriptions: [...subscriptions].sort(), user: lines.some((l) => l.startsWith('user.subscription_status')) };
}

const sweep = (prepared: PreparedHistory, repair: boolean) =>
  stateSweep(
    { stripe: createStripeClient('sk_test_property', { apiBase: fake.url }), sql: t.sql, connection, config },
    { customer: prepared.built.customer, repair },
  );

describe.each(LIFECYCLE_CORPUS)('$name', (c) => {
  const length = c.build({ tag: 'probe', start: 0, user: { id: 1, email: 'probe@example.com' }, shape: c.shape ?? 'basil' }).events.length;

  test.prop([deliverySchedule(length, { maxLanes: 1 }), fc.array(fc.boolean(), { minLength: length, maxLength: length })], {
    numRuns: RUNS,
  })(
    'events dropped, duplicated, reordered: the report names exactly the rows that differ; --repair makes them Stripe’s, then nothing is found',
    async (schedule, dropped) => {
      // Histories span up to ~450 days and end before now: the repair's fetch is newer than every event.
      const prepared = await prepareHistory(t.sql, c, Math.floor(Date.now() / 1000) - 470 * DAY);
      fake.reset();
      fake.loadHistory(prepared.built);
      const events = prepared.built.events;
      const keep = (e: StripeEvent) => e.type === 'checkout.session.completed' || !dropped[events.indexOf(e)];
      for (const batch of deliveryLanes(events, schedule)[0]!) {
        const kept = batch.filter(keep);
        if (kept.length === 0) continue;
        const { results } = await applyEvents(connection, kept, config);
        for (const result of results) if (result instanceof Error) throw result;
      }
      const before = differing(await historyDifferences(t.sql, prepared));

      const found = await sweep(prepared, false);
      const named = [...new Set(found.drifts.filter((d) => d.class !== 'user_status').map((d) => d.subscriptionId))].sort();
      expect(named).toEqual(before.subscriptions);
      // A user reconcile can see: linked to a row, or bound to the customer (one known only by metadata is found by the repair).
      const [seen] = await t.sql<Array<{ known: boolean }>>`
        select exists (select 1 from subscriptions where user_id = ${prepared.user.id})
          or exists (select 1 from users where id = ${prepared.user.id} and stripe_customer_id = ${prepared.built.customer}) as known`;
      expect(found.drifts.some((d) => d.class === 'user_status' && d.ours?.startsWith('user '))).toBe(before.user && seen!.known);
      expect(found.skipped).toEqual([]);

      const repaired = await sweep(prepared, true);
      // The same subscription drift (a user's status the subscription's repair has already set is not listed again).
      const nonUser = (r: typeof found) => r.drifts.filter((d) => d.class !== 'user_status').map((d) => `${d.subscriptionId}:${d.class}`);
      expect(nonUser(repaired)).toEqual(nonUser(found));
      expect(await historyDifferences(t.sql, prepared)).toEqual([]);

      const again = await sweep(prepared, false);
      expect(again.drifts).toEqual([]);
    },
  );
});
