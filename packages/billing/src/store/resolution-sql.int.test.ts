import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import type { Sql } from '@billing/db/client';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import type { LifecycleEvent } from '../lifecycle-input';
import { isResolvable, resolveUser, userDirectory, type ResolutionView } from '../resolve-user';
import { customerIdHash } from './erased-customers';
import { loadedFrom, loadMessage, scopeOf } from './load-world';
import { resolvableUnresolvedPage, SWEEP_START } from './resolvable-unresolved';

/**
 * The SQL twins of the resolution rules agree with their TypeScript rule, over generated worlds
 * (users, subscription rows, erased customers, unresolved ledger rows) in real Postgres:
 * - the sweep's query (`resolvable-unresolved.ts`) finds exactly the rows `isResolvable` accepts;
 * - the users the loader locks and loads (`candidate-users.ts`, with the erased customers it reads)
 *   are enough: resolving each event against them finds what resolving against every user finds,
 *   and `isResolvable` says the same of each loaded unresolved row.
 */

let t: TestDatabase;
let connection: Sql;
beforeAll(async () => {
  t = await createTestDatabase('resolution_sql');
  connection = t.connection();
});
afterAll(async () => {
  await t?.drop();
});

const CUSTOMERS = ['cus_a', 'cus_b', 'cus_c', 'cus_d'];
const SUBSCRIPTIONS = 6;
/** A subscription belongs to one customer, as at Stripe. */
const customerOf = (subscription: number) => CUSTOMERS[subscription % CUSTOMERS.length]!;
const emailOf = (user: number) => `u${user}@example.com`;

const worldArbitrary = fc.record({
  users: fc.array(fc.option(fc.constantFrom(...CUSTOMERS), { nil: null }), { maxLength: 5 }),
  subscriptions: fc.uniqueArray(
    fc.record({ index: fc.nat(SUBSCRIPTIONS - 1), user: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }) }),
    {
      selector: (s) => s.index,
      maxLength: 5,
    },
  ),
  erased: fc.subarray(CUSTOMERS),
  unresolved: fc.array(
    fc.record({
      subscription: fc.option(fc.nat(SUBSCRIPTIONS - 1), { nil: null }),
      customer: fc.constantFrom(...CUSTOMERS),
      hasEvent: fc.boolean(),
      created: fc.option(fc.nat(5), { nil: null }),
    }),
    { maxLength: 8 },
  ),
  events: fc.array(
    fc.record({
      subscription: fc.nat(SUBSCRIPTIONS - 1),
      metadataUser: fc.option(fc.integer({ min: 1, max: 7 }), { nil: null }),
      emails: fc.subarray([emailOf(1), emailOf(2), emailOf(3), 'nobody@example.com']),
    }),
    { minLength: 1, maxLength: 4 },
  ),
});
type GeneratedWorld = typeof worldArbitrary extends fc.Arbitrary<infer W> ? W : never;

const T0 = 1_790_000_000;
let run = 0;

/** Writes the world; returns what the TypeScript rules see of it (every user, every row). */
async function seed(
  world: GeneratedWorld,
): Promise<{ view: ResolutionView; rows: Array<{ eventId: string; customerId: string | null; subscriptionId: string | null }> }> {
  run += 1;
  await t.sql`truncate users, subscriptions, webhook_events, erased_customers restart identity cascade`;
  const used = new Set<string>();
  const users = world.users.map((customer, i) => {
    const unique = customer !== null && !used.has(customer) ? customer : null;
    if (unique) used.add(unique);
    return { id: i + 1, email: emailOf(i + 1), customerId: unique, status: null };
  });
  for (const u of users) await t.sql`insert into users (email, stripe_customer_id) values (${u.email}, ${u.customerId})`;
  const subscriptions = new Map<string, { userId: number | null }>();
  for (const s of world.subscriptions) {
    const userId = s.user !== null && s.user <= users.length ? s.user : null;
    subscriptions.set(`sub_${s.index}`, { userId });
    await t.sql`insert into subscriptions (stripe_subscription_id, stripe_customer_id, user_id, plan_slug, period, status)
      values (${`sub_${s.index}`}, ${customerOf(s.index)}, ${userId}, 'pro', 'monthly', 'active')`;
  }
  for (const c of world.erased) await t.sql`insert into erased_customers (customer_id_sha256) values (${customerIdHash(c)})`;
  const rows = world.unresolved.map((r, i) => ({
    eventId: `evt_r${run}x${i}`,
    subscriptionId: r.subscription === null ? null : `sub_${r.subscription}`,
    customerId: r.subscription === null ? r.customer : customerOf(r.subscription),
    hasEvent: r.hasEvent,
    created: r.created,
  }));
  for (const r of rows) {
    await t.sql`insert into webhook_events (stripe_event_id, event_type, stripe_subscription_id, stripe_customer_id, outcome, event_created_at, unresolved_input)
      values (${r.eventId}, 'customer.subscription.updated', ${r.subscriptionId}, ${r.customerId}, 'unresolved',
        to_timestamp(${r.created === null ? null : T0 + r.created}), ${r.hasEvent ? '{"kept":true}' : null}::jsonb)`;
  }
  return { view: { users: userDirectory(users), subscriptions, erasedCustomers: new Set(world.erased) }, rows };
}

describe('the resolution rules and their SQL twins', () => {
  test.prop([worldArbitrary], { numRuns: 40 })('the sweep’s query finds exactly the rows isResolvable accepts', async (world) => {
    const { view, rows } = await seed(world);
    const page = await resolvableUnresolvedPage(connection, SWEEP_START, 1_000);
    expect(page.rows.map((r) => r.eventId).sort()).toEqual(
      rows
        .filter((r) => isResolvable(r, view))
        .map((r) => r.eventId)
        .sort(),
    );
  });

  test.prop([worldArbitrary], { numRuns: 40 })(
    'resolving against the users the loader locks finds what resolving against every user finds',
    async (world) => {
      const { view } = await seed(world);
      const events: LifecycleEvent[] = world.events.map((e, i) => ({
        id: `evt_e${run}x${i}`,
        type: 'customer.subscription.updated',
        created: T0 + i,
        subscriptionId: `sub_${e.subscription}`,
        customerId: customerOf(e.subscription),
        user: { customerId: customerOf(e.subscription), metadataUserId: e.metadataUser, emails: e.emails },
        input: { kind: 'hint', hint: 'paid', plan: {}, firstInvoice: false },
      }));
      const scope = scopeOf(events);
      const results = await connection.unsafe(loadMessage(events, scope, 'resolutiontest'));
      await connection`rollback`;
      const loaded = loadedFrom(results as never, scope).world;
      const loadedView: ResolutionView = {
        users: loaded.users,
        subscriptions: loaded.subscriptions,
        erasedCustomers: loaded.erasedCustomers!,
      };

      const found = (v: ResolutionView, e: LifecycleEvent) => {
        const r = resolveUser(v.users, e.user, v.subscriptions.get(e.subscriptionId)?.userId ?? null, v.erasedCustomers.has(e.customerId!));
        return r && { id: r.user.id, via: r.via };
      };
      for (const e of events) expect(found(loadedView, e)).toEqual(found(view, e));
      for (const row of loaded.unresolved) expect(isResolvable(row, loadedView)).toBe(isResolvable(row, view));
    },
  );
});
