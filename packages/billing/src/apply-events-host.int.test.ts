import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sql } from '@billing/db/client';
import { activeEntitlementSummaryObject } from '@billing/stripe-simulator/entitlements';
import { checkoutSessionObject, event, invoiceObject, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { startFakeStripeApi, type FakeStripeApi } from '@billing/stripe-simulator/fake-api';
import { applyAccessClock, applyEvents, type ApplyOptions } from './apply-events';
import { T0, useApplyFixture } from './apply-events.fixture';
import { defaultBillingConfig } from './config';
import { customerIdHash } from './store/erased-customers';

/**
 * The host application contract in the worker's transaction (docs/design.md "Host application
 * contract"): outbox rows committed with the change and announced at commit, written once, the
 * access clock, and entitlements summaries.
 */
const { database, addUser } = useApplyFixture('apply_host');

const CUSTOMER = 'cus_host1';
const SUB = 'sub_host1';
const HOUR = 3_600;
const policy = { pastDueGraceSeconds: HOUR };

/** A subscription snapshot with a fixed price (the simulator's own picks a new one each time). */
function snapshot(type: string, status: string, created: number, extra: Record<string, unknown> = {}, id = SUB): StripeEvent {
  const object = subscriptionObject({ id, customer: CUSTOMER, status, currentPeriodEnd: T0 + 30 * 86_400 });
  const items = object.items as { data: Array<{ price: { id: string } }> };
  items.data[0]!.price.id = 'price_host';
  return event(type, { ...object, ...extra }, { created });
}
const invoice = (type: string, created: number) =>
  event(type, invoiceObject({ subscription: SUB, customer: CUSTOMER, status: type === 'invoice.payment_failed' ? 'open' : 'paid' }), {
    created,
  });
const summary = (keys: string[], created: number, pageSize = 10, customer = CUSTOMER) =>
  event('entitlements.active_entitlement_summary.updated', activeEntitlementSummaryObject(customer, keys, pageSize), { created });

let connections: Sql[];
beforeAll(() => {
  connections = [database().connection(), database().connection()];
});

async function applyAt(now: number, events: StripeEvent[], options: ApplyOptions = {}) {
  const batch = await applyEvents(connections[0]!, events, defaultBillingConfig, { accessPolicy: policy, now: () => now, ...options });
  for (const result of batch.results) if (result instanceof Error) throw result;
  return batch;
}

const outbox = async () =>
  database().sql<Array<{ id: number; type: string; subject: string; sequence: number; stripe_event_ids: string[]; occurred_at: number }>>`
    select id::int as id, type, subject, sequence, stripe_event_ids, extract(epoch from occurred_at)::float8 as occurred_at
    from billing_outbox order by id`;
const types = async () => (await outbox()).map((r) => `${r.subject.startsWith('user:') ? 'user' : 'sub'} ${r.type.split('.')[1]}`);
const access = async (userId: number) =>
  (
    await database().sql<
      Array<{
        has_access: boolean;
        plan_slug: string | null;
        reason: string;
        access_until: number | null;
        entitlements: string[];
        entitlements_complete: boolean;
      }>
    >`select has_access, plan_slug, reason, extract(epoch from access_until)::float8 as access_until, entitlements, entitlements_complete
      from billing_access where user_id = ${userId}`
  )[0];

describe('outbox rows in the batch transaction', () => {
  it('are announced with pg_notify when the transaction commits, naming the ids applyEvents returns', async () => {
    await addUser('ada@example.com', CUSTOMER);
    const heard: string[] = [];
    const listener = await database().sql.listen('billing_outbox', (payload) => heard.push(payload));
    try {
      const batch = await applyAt(T0, [snapshot('customer.subscription.created', 'active', T0)]);
      const rows = await outbox();
      expect(rows.map((r) => r.id)).toEqual(batch.outboxIds);
      expect(await types()).toEqual(['sub created', 'sub activated', 'user access_granted']);
      await vi.waitFor(() => expect(heard).toHaveLength(1));
      expect(JSON.parse(heard[0]!)).toEqual({ first: rows[0]!.id, last: rows.at(-1)!.id, count: 3 });
      // A batch that writes no row announces nothing.
      const none = await applyAt(T0, [snapshot('customer.subscription.created', 'active', T0 - 10)]);
      expect(none.outboxIds).toEqual([]);
      await setTimeout(100);
      expect(heard).toHaveLength(1);
    } finally {
      await listener.unlisten();
    }
  });

  it('writeOutbox false (the bench’s baseline only): the change and the access are written, no outbox row nor sequence', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    const batch = await applyAt(T0, [snapshot('customer.subscription.created', 'active', T0)], { writeOutbox: false });
    expect(batch.outboxIds).toEqual([]);
    expect(await outbox()).toEqual([]);
    expect(await database().sql`select subject from billing_outbox_subjects`).toEqual([]);
    expect(await database().sql`select status from subscriptions`).toEqual([{ status: 'active' }]);
    expect(await access(user.id)).toMatchObject({ has_access: true });
  });

  it('a duplicate or a stale event writes none', async () => {
    await addUser('ada@example.com', CUSTOMER);
    const created = snapshot('customer.subscription.created', 'active', T0);
    await applyAt(T0, [created]);
    const before = await outbox();
    expect((await applyAt(T0, [created])).outboxIds).toEqual([]); // duplicate
    const stale = await applyAt(T0 + 5, [snapshot('customer.subscription.updated', 'incomplete', T0 - 5)]);
    expect(stale.results[0]).toMatchObject({ outcome: 'stale' });
    expect(stale.outboxIds).toEqual([]);
    expect(await outbox()).toEqual(before);
  });

  it('a batch that failed writes nothing, and its events retried write each row once, in sequence', async () => {
    await addUser('ada@example.com', CUSTOMER);
    const created = snapshot('customer.subscription.created', 'active', T0);
    const failed = invoice('invoice.payment_failed', T0 + 10);
    const recovered = invoice('invoice.paid', T0 + 20);
    // The transition of the failed payment fails its transaction (until the trigger is dropped).
    await database().sql.unsafe(`
      create function boom() returns trigger language plpgsql as $$ begin
        if new.stripe_event_id = '${failed.id}' then raise exception 'boom'; end if; return new; end $$;
      create trigger boom before insert on subscription_transitions for each row execute function boom()`);
    try {
      const batch = await applyEvents(connections[0]!, [created, failed, recovered], defaultBillingConfig, {
        accessPolicy: policy,
        now: () => T0 + 30,
      });
      // The batch failed as a whole, then each event alone: the failed payment fails, the others commit.
      expect(batch.results.map((r) => (r instanceof Error ? 'error' : r.outcome))).toEqual(['applied', 'error', 'applied']);
      expect(await types()).toEqual(['sub created', 'sub activated', 'user access_granted']);
    } finally {
      await database().sql.unsafe('drop trigger boom on subscription_transitions; drop function boom()');
    }
    // Retried (as BullMQ would), then everything again: each change told once, sequences unbroken.
    await applyAt(T0 + 40, [failed]);
    await applyAt(T0 + 50, [created, failed, recovered]);
    expect(await types()).toEqual(['sub created', 'sub activated', 'user access_granted', 'sub past_due']);
    const rows = await outbox();
    expect(rows.filter((r) => r.subject === SUB).map((r) => r.sequence)).toEqual([1, 2, 3]);
  });

  it('several changes of one subscription in one batch: one row each, in the order they happened', async () => {
    await addUser('ada@example.com', CUSTOMER);
    const events = [
      invoice('invoice.paid', T0 + 7 * 86_400),
      snapshot('customer.subscription.created', 'active', T0),
      invoice('invoice.payment_failed', T0 + 86_400),
    ];
    // Decided within the grace of the failed payment.
    const batch = await applyAt(T0 + 86_400 + 60, events);
    expect(await types()).toEqual(['sub created', 'sub activated', 'user access_granted', 'sub past_due', 'sub recovered']);
    const rows = await outbox();
    expect(rows.map((r) => [r.sequence, r.stripe_event_ids, r.occurred_at])).toEqual([
      [1, [events[1]!.id], T0],
      [2, [events[1]!.id], T0],
      [1, [events[1]!.id], T0],
      [3, [events[2]!.id], T0 + 86_400],
      [4, [events[0]!.id], T0 + 7 * 86_400],
    ]);
    expect(batch.outboxIds).toEqual(rows.map((r) => r.id));
  });
});

describe('the access clock', () => {
  it('past_due for the grace, then revoked by the clock (once, though two workers run it), on time', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    await applyAt(T0, [snapshot('customer.subscription.created', 'active', T0)]);
    await applyAt(T0 + 10, [invoice('invoice.payment_failed', T0 + 10)]);
    expect(await access(user.id)).toMatchObject({ has_access: true, reason: 'past_due_grace', access_until: T0 + 10 + HOUR });

    // Before the grace ends: nothing due.
    const early = await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 10 + HOUR - 1 });
    expect(early).toEqual({ users: [], revoked: [], outboxIds: [] });

    const at = T0 + 10 + HOUR + 20;
    const runs = await Promise.all(connections.map((c) => applyAccessClock(c, { accessPolicy: policy, now: () => at })));
    expect(runs.flatMap((r) => r.revoked)).toEqual([user.id]);
    expect(await access(user.id)).toMatchObject({ has_access: false, reason: 'none', access_until: null, plan_slug: null });
    const revoked = (await outbox()).filter((r) => r.type === 'user.access_revoked');
    expect(revoked).toEqual([expect.objectContaining({ stripe_event_ids: [], occurred_at: at, subject: `user:${user.id}` })]);
    expect(runs.flatMap((r) => r.outboxIds)).toEqual([revoked[0]!.id]);
  });

  it('recovered within the grace keeps access: no revoke row, nothing due for the clock', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    await applyAt(T0, [snapshot('customer.subscription.created', 'active', T0)]);
    await applyAt(T0 + 10, [invoice('invoice.payment_failed', T0 + 10)]);
    await applyAt(T0 + HOUR / 2, [invoice('invoice.paid', T0 + HOUR / 2)]);
    expect(await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 10 * HOUR })).toMatchObject({ users: [] });
    expect(await types()).toEqual(['sub created', 'sub activated', 'user access_granted', 'sub past_due', 'sub recovered']);
    expect(await access(user.id)).toMatchObject({ has_access: true, reason: 'active', access_until: null });
  });

  it('the same past_due said again later (a renewal while past_due) does not restart the grace', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    await applyAt(T0, [snapshot('customer.subscription.created', 'active', T0)]);
    await applyAt(T0 + 10, [snapshot('customer.subscription.updated', 'past_due', T0 + 10)]);
    await applyAt(T0 + HOUR - 10, [snapshot('customer.subscription.updated', 'past_due', T0 + HOUR - 10, { cancel_at: T0 + 99 * HOUR })]);
    expect(await access(user.id)).toMatchObject({ has_access: true, access_until: T0 + 10 + HOUR });
    await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 10 + HOUR });
    expect(await access(user.id)).toMatchObject({ has_access: false });
  });

  it('a trial over with no event about it: revoked at its end; a scheduled cancellation likewise', async () => {
    const ada = await addUser('ada@example.com', CUSTOMER);
    await applyAt(T0, [snapshot('customer.subscription.created', 'trialing', T0, { trial_end: T0 + 100 })]);
    const bob = await addUser('bob@example.com', 'cus_host2');
    await applyAt(T0, [
      event(
        'customer.subscription.created',
        { ...subscriptionObject({ id: 'sub_host2', customer: 'cus_host2', status: 'active' }), cancel_at: T0 + 200 },
        { created: T0 },
      ),
    ]);
    expect((await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 150 })).revoked).toEqual([ada.id]);
    expect((await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 250 })).revoked).toEqual([bob.id]);
    expect(await access(bob.id)).toMatchObject({ has_access: false, reason: 'none' });
  });

  it('with undecided: the first decision of users whose rows predate the host contract', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    await database().sql`
      insert into subscriptions (stripe_subscription_id, stripe_customer_id, user_id, plan_slug, period, status, status_at, snapshot_at)
      values (${SUB}, ${CUSTOMER}, ${user.id}, 'pro', 'monthly', 'active', to_timestamp(${T0}), to_timestamp(${T0}))`;
    const run = await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 5, undecided: true });
    expect(run.users).toEqual([user.id]);
    expect(await access(user.id)).toMatchObject({ has_access: true, plan_slug: 'pro', reason: 'active' });
    expect(await types()).toEqual(['user access_granted']);
    expect((await applyAccessClock(connections[0]!, { accessPolicy: policy, now: () => T0 + 5, undecided: true })).users).toEqual([]);
  });
});

describe('entitlements summaries', () => {
  let api: FakeStripeApi;
  beforeAll(async () => {
    api = await startFakeStripeApi();
  });
  afterAll(async () => {
    await api?.close();
  });
  /** What the worker's fetcher does with the SDK, here with fetch: every page of the customer's active entitlements. */
  const fetchEntitlements = async (customer: string) => {
    const keys: string[] = [];
    for (let after: string | undefined; ;) {
      const query = new URLSearchParams({ customer, limit: '2', ...(after && { starting_after: after }) });
      const response = await fetch(`${api.url}/v1/entitlements/active_entitlements?${query}`, {
        headers: { authorization: 'Bearer sk_test_x' },
      });
      const page = (await response.json()) as { data: Array<{ id: string; lookup_key: string }>; has_more: boolean };
      keys.push(...page.data.map((e) => e.lookup_key));
      if (!page.has_more) return keys;
      after = page.data.at(-1)!.id;
    }
  };

  it('the newest replaces the older whatever the arrival order; the user is told the change', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    const newer = summary(['export', 'seats'], T0 + 20);
    const older = summary(['export'], T0 + 10);
    const first = await applyAt(T0 + 30, [newer]);
    expect(first.results[0]).toMatchObject({ outcome: 'applied', customerId: CUSTOMER });
    expect((await applyAt(T0 + 30, [older])).results[0]).toMatchObject({ outcome: 'stale' });
    expect(await access(user.id)).toMatchObject({ has_access: false, entitlements: ['export', 'seats'], entitlements_complete: true });
    const rows = await database().sql<
      Array<{ type: string; data: { changes: unknown; entitlements: string[] } }>
    >`select type, data from billing_outbox`;
    expect(rows).toEqual([
      {
        type: 'user.entitlements_changed',
        data: expect.objectContaining({ entitlements: ['export', 'seats'], changes: { entitlements: [[], ['export', 'seats']] } }),
      },
    ]);
    const [stored] = await database()
      .sql`select lookup_keys, stripe_event_id, complete from customer_entitlements where stripe_customer_id = ${CUSTOMER}`;
    expect(stored).toEqual({ lookup_keys: ['export', 'seats'], stripe_event_id: newer.id, complete: true });
  });

  it('has_more without the API: the first page, marked incomplete and reported; with it: the whole list, complete', async () => {
    const user = await addUser('ada@example.com', CUSTOMER);
    const keys = Array.from({ length: 12 }, (_, i) => `feature_${String(i).padStart(2, '0')}`);
    const partial = summary(keys, T0 + 10);
    const batch = await applyAt(T0 + 20, [partial]);
    expect(batch.incompleteEntitlements).toEqual([{ eventId: partial.id, customerId: CUSTOMER }]);
    expect(await access(user.id)).toMatchObject({ entitlements: keys.slice(0, 10), entitlements_complete: false });

    api.setEntitlements(CUSTOMER, keys);
    const again = summary(keys, T0 + 30);
    const fetched = await applyAt(T0 + 40, [again], { fetchEntitlements });
    expect(fetched.incompleteEntitlements).toEqual([]);
    expect(api.requestsTo('/v1/entitlements/active_entitlements').length).toBe(6);
    expect(await access(user.id)).toMatchObject({ entitlements: keys, entitlements_complete: true });
  });

  it('a fetch that fails stores the first page incomplete, and says why', async () => {
    await addUser('ada@example.com', CUSTOMER);
    const errors: unknown[] = [];
    const batch = await applyAt(T0, [summary(['a', 'b', 'c'], T0, 2)], {
      fetchEntitlements: () => Promise.reject(new Error('Stripe is down')),
      onEntitlementsError: (error) => errors.push(error),
    });
    expect(batch.incompleteEntitlements).toHaveLength(1);
    expect(errors).toEqual([new Error('Stripe is down')]);
  });

  it('a summary before its customer is anyone’s: kept, and the user gets it once a checkout binds the customer', async () => {
    const user = await addUser('ada@example.com');
    await applyAt(T0, [summary(['export'], T0)]);
    expect(await outbox()).toEqual([]);
    const checkout = event(
      'checkout.session.completed',
      checkoutSessionObject({ subscription: SUB, customer: CUSTOMER, customerEmail: 'ada@example.com' }),
      { created: T0 + 5 },
    );
    await applyAt(T0 + 5, [checkout]);
    expect(await access(user.id)).toMatchObject({ entitlements: ['export'] });
    expect(await types()).toEqual(['user entitlements_changed']);
  });

  it('an erased customer’s summary is not kept (ignored) until the host binds the customer again', async () => {
    await database().sql`insert into erased_customers (customer_id_sha256) values (${customerIdHash(CUSTOMER)})`;
    const first = await applyAt(T0, [summary(['export'], T0)]);
    expect(first.results[0]).toMatchObject({ outcome: 'ignored' });
    expect(await database().sql`select * from customer_entitlements`).toEqual([]);
    await addUser('ada@example.com', CUSTOMER);
    expect((await applyAt(T0, [summary(['export'], T0 + 1)])).results[0]).toMatchObject({ outcome: 'applied' });
  });
});
