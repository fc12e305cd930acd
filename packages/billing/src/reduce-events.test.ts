import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { StripeEvent } from '@billing/queue';
import { deliveryLanes, deliverySchedule, withCollisions } from '@billing/stripe-simulator/delivery-schedule';
import { expectedSubscription, expectedUserStatus } from '@billing/stripe-simulator/oracle';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS, type HistoryCase } from '@billing/stripe-simulator/corpus';
import { defaultBillingConfig } from './config';
import { isIgnored, type LifecycleEvent } from './lifecycle-input';
import type { SubscriptionState } from './lifecycle';
import { normaliseEvent } from './normalise-event';
import { reduceEvents, type StoredUnresolved } from './reduce-events';
import { userDirectory, type UserRecord } from './resolve-user';

/**
 * The functional core against the corpus without a database: many more delivery orders than
 * the database property runs (`lifecycle-property.test.ts`), through a store in memory that
 * keeps what the shell keeps (ledger, rows, users) between batches.
 */

const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
const RUNS = Number(process.env.PROPERTY_RUNS_PURE ?? 300);
const T0 = 1_790_000_000;

class MemoryStore {
  readonly subscriptions = new Map<string, SubscriptionState>();
  readonly users = new Map<number, UserRecord>();
  readonly ledger = new Map<
    string,
    { outcome: string; customerId: string | null; subscriptionId: string | null; created: number; event: LifecycleEvent | null }
  >();

  apply(batch: readonly StripeEvent[]): void {
    const seen = new Set<string>();
    const events = batch.map((e) => normaliseEvent(e, config)).filter((e) => !seen.has(e.id) && seen.add(e.id));
    const fresh = events.filter((e) => {
      const row = this.ledger.get(e.id);
      return row === undefined || row.outcome === 'unresolved';
    });
    for (const e of fresh)
      this.ledger.set(e.id, {
        outcome: isIgnored(e) ? 'ignored' : 'applied',
        customerId: e.customerId,
        subscriptionId: e.subscriptionId,
        created: e.created,
        event: null,
      });
    const customers = new Set(fresh.map((e) => e.customerId));
    const subscriptionIds = new Set(fresh.map((e) => e.subscriptionId));
    const unresolved: StoredUnresolved[] = [];
    for (const [eventId, row] of this.ledger) {
      if (row.outcome !== 'unresolved' || !(customers.has(row.customerId) || subscriptionIds.has(row.subscriptionId))) continue;
      unresolved.push({ eventId, created: row.created, customerId: row.customerId, subscriptionId: row.subscriptionId, event: row.event });
    }
    const userSubscriptions = new Map<number, Map<string, string>>();
    for (const s of this.subscriptions.values()) {
      if (s.userId === null) continue;
      userSubscriptions.set(s.userId, (userSubscriptions.get(s.userId) ?? new Map()).set(s.subscriptionId, s.status));
    }
    const effects = reduceEvents(
      { subscriptions: new Map(this.subscriptions), users: userDirectory(this.users.values()), userSubscriptions, unresolved },
      fresh,
    );
    for (const [id, state] of effects.subscriptions) this.subscriptions.set(id, state);
    for (const [id, change] of effects.users) this.users.set(id, { ...this.users.get(id)!, ...change });
    for (const change of effects.ledger)
      Object.assign(this.ledger.get(change.eventId)!, { outcome: change.outcome, event: change.unresolvedEvent });
  }
}

function run(c: HistoryCase, schedule: Parameters<typeof deliveryLanes>[1]): string[] {
  const store = new MemoryStore();
  const user = { id: 1, email: 'pure@example.com' };
  const built = c.build({ tag: 'p', start: T0, user, shape: c.shape ?? 'basil' });
  store.users.set(1, { ...user, customerId: c.route === 'bound' ? built.customer : null, status: null });
  const history = withCollisions(built.events, schedule.collapse);
  // One lane at a time: in memory there is no concurrency, only order and batching.
  for (const batch of deliveryLanes(history, { ...schedule, lanes: 1 }).flat()) store.apply(batch);

  const differences: string[] = [];
  for (const h of built.subscriptions) {
    const want = expectedSubscription(h);
    const got = store.subscriptions.get(want.subscriptionId);
    const actual = got && { subscriptionId: got.subscriptionId, status: got.status, ...got.facts };
    const expected = {
      subscriptionId: want.subscriptionId,
      status: want.status,
      currentPeriodEnd: want.currentPeriodEnd,
      priceId: want.priceId,
      planSlug: want.planSlug,
      period: want.period,
      cancelAt: want.cancelAt,
      trialEnd: want.trialEnd,
    };
    if (JSON.stringify(actual) !== JSON.stringify(expected)) differences.push(`${JSON.stringify(actual)} ≠ ${JSON.stringify(expected)}`);
    if (got?.userId !== 1) differences.push(`${want.subscriptionId}.userId: ${String(got?.userId)} ≠ 1`);
  }
  const wantStatus = expectedUserStatus(built.subscriptions.map((h) => expectedSubscription(h).status));
  if (store.users.get(1)?.status !== wantStatus)
    differences.push(`user status: ${String(store.users.get(1)?.status)} ≠ ${String(wantStatus)}`);
  const left = [...store.ledger.values()].filter((r) => r.outcome === 'unresolved').length;
  if (left > 0) differences.push(`${left} events left unresolved`);
  return differences;
}

describe.each(LIFECYCLE_CORPUS)('$name (functional core, in memory)', (c) => {
  const length = c.build({ tag: 'p', start: T0, user: { id: 1, email: 'pure@example.com' }, shape: c.shape ?? 'basil' }).events.length;
  test.prop([deliverySchedule(length, { maxLanes: 1, maxBatch: 6 })], { numRuns: RUNS })(
    'any order and batching ends in Stripe’s final object',
    (schedule) => {
      expect(run(c, schedule)).toEqual([]);
    },
  );
});

describe('delivery schedules', () => {
  test.prop([fc.constantFrom(...LIFECYCLE_CORPUS)])('collisions keep Stripe’s order and never move time backwards', (c) => {
    const events = c.build({ tag: 'p', start: T0, user: { id: 1, email: 'pure@example.com' }, shape: c.shape ?? 'basil' }).events;
    const collided = withCollisions(
      events,
      events.map(() => true),
    );
    expect(collided.map((e) => e.id)).toEqual(events.map((e) => e.id));
    for (let i = 1; i < collided.length; i += 1) expect(collided[i]!.created).toBeGreaterThanOrEqual(collided[i - 1]!.created);
  });
});
