import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { applyEvent } from './apply-events';
import { defaultBillingConfig } from './config';

/**
 * docs/design.md "Host application contract": each corpus history, delivered in Stripe's own order
 * one event at a time as it happens (access decided at each event's time), writes exactly the
 * outbox rows below. The expectations are read from the histories (packages/stripe-simulator/src/corpus.ts),
 * not from running the code: `sub1`/`sub2` are the history's subscriptions, `user` its user.
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('outbox_corpus');
});
afterAll(async () => {
  await t?.drop();
});

const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
const T0 = 1_790_000_000;

/** A card checkout as Stripe emits it: created `incomplete`, then updated `active` in the same second. */
const CARD_CHECKOUT = ['sub1 created', 'sub1 activated', 'user access_granted'];

const EXPECTED: Record<string, string[]> = {
  // The events wait (unresolved) for the checkout's email; applied once it binds the customer, in Stripe's order.
  'card checkout': CARD_CHECKOUT,
  '3-D Secure checkout: incomplete, then active once authenticated': CARD_CHECKOUT,
  // The first invoice's failure keeps it `incomplete` (no status row); 23 hours later it expires.
  'incomplete, never paid: incomplete_expired after 23 hours': ['sub1 created', 'sub1 ended'],
  // trial_will_end tells nothing new; at the trial's end the renewal activates it: access never lapses.
  'trial through checkout, then active (yearly price, no period in the metadata)': [
    'sub1 created',
    'sub1 trial_started',
    'user access_granted',
    'sub1 activated',
  ],
  // The checkout a second later finds the subscription's object already applied: nothing.
  'trial through checkout, still in its trial (checkout a second after the subscription)': [
    'sub1 created',
    'sub1 trial_started',
    'user access_granted',
  ],
  // `…paused` and `…resumed` are companions of an update saying the same: told once each.
  'trial without a payment method: paused at trial end, resumed later': [
    'sub1 created',
    'sub1 trial_started',
    'user access_granted',
    'sub1 paused',
    'user access_revoked',
    'sub1 resumed',
    'user access_granted',
  ],
  // A renewal moves the period end only: no row.
  'renewal paid (the invoice an hour after the period moved)': CARD_CHECKOUT,
  'renewal paid, pre-2025-03-31 payload shape': CARD_CHECKOUT,
  // past_due within the grace keeps access; the retry's failure changes nothing; paid → recovered.
  'renewal failed: past_due, retried, recovered': [...CARD_CHECKOUT, 'sub1 past_due', 'sub1 recovered'],
  // unpaid (6 days 23 hours into a 7-day grace) revokes; the deletion ends it.
  'renewal failed for good: past_due, unpaid, canceled': [
    ...CARD_CHECKOUT,
    'sub1 past_due',
    'sub1 unpaid',
    'user access_revoked',
    'sub1 ended',
  ],
  'upgrade in the Customer Portal: the price moves, the metadata still names the old plan': [
    ...CARD_CHECKOUT,
    'sub1 plan_changed',
    'user plan_changed',
  ],
  'downgrade in the Customer Portal: yearly business to monthly starter': [...CARD_CHECKOUT, 'sub1 plan_changed', 'user plan_changed'],
  'cancel at period end, then undo it': [...CARD_CHECKOUT, 'sub1 cancellation_scheduled', 'sub1 cancellation_withdrawn'],
  'cancel at period end, then ended': [...CARD_CHECKOUT, 'sub1 cancellation_scheduled', 'sub1 ended', 'user access_revoked'],
  'scheduled cancellation at a date (flexible billing cancel_at)': [...CARD_CHECKOUT, 'sub1 cancellation_scheduled'],
  // The new subscription (found by the customer the first checkout bound) takes over the plan
  // while the old one is still scheduled to end; the old one's end then changes nothing for the user.
  'resubscription: the old subscription ends after the new one started': [
    ...CARD_CHECKOUT,
    'sub1 cancellation_scheduled',
    'sub2 created',
    'sub2 activated',
    'user plan_changed',
    'sub1 ended',
  ],
  'customer unknown until the session links it (email only in customer_details)': CARD_CHECKOUT,
};

describe.each(LIFECYCLE_CORPUS)('$name', (c) => {
  it('in Stripe’s order, one event at a time: exactly its expected rows, each naming its event and time', async () => {
    expect(EXPECTED[c.name], `no expected rows written for "${c.name}"`).toBeDefined();
    const prepared = await prepareHistory(t.sql, c, T0);
    const { events } = prepared.built;
    const connection = t.connection();
    for (const event of events) await applyEvent(connection, event, config, { now: () => event.created });

    const labels = new Map([
      ...prepared.built.subscriptions.map((s, i): [string, string] => [s.ids.subscription, `sub${i + 1}`]),
      [`user:${prepared.user.id}`, 'user'],
    ]);
    const rows = await t.sql<
      Array<{ subject: string; type: string; sequence: number; stripe_event_ids: string[]; occurred_at: number; user_id: number | null }>
    >`
      select subject, type, sequence, stripe_event_ids, extract(epoch from occurred_at)::float8 as occurred_at, user_id
      from billing_outbox where subject = any(${[...labels.keys()]}) order by id`;
    expect(rows.map((r) => `${labels.get(r.subject)} ${r.type.replace(/^(subscription|user)\./, '')}`)).toEqual(EXPECTED[c.name]);
    const created = new Map(events.map((e) => [e.id, e.created]));
    for (const row of rows) {
      expect(row.user_id).toBe(prepared.user.id);
      expect(row.stripe_event_ids).toHaveLength(1);
      expect(row.occurred_at).toBe(created.get(row.stripe_event_ids[0]!));
    }
    const sequences = new Map<string, number[]>();
    for (const row of rows) sequences.set(row.subject, [...(sequences.get(row.subject) ?? []), row.sequence]);
    for (const list of sequences.values()) expect(list).toEqual(list.map((_, i) => i + 1));
  });
});
