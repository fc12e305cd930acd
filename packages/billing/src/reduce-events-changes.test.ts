import { describe, expect, it } from 'vitest';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { defaultBillingConfig } from './config';
import type { SubscriptionState } from './lifecycle';
import { normaliseEvent } from './normalise-event';
import { reduceEvents, type World } from './reduce-events';
import { userDirectory } from './resolve-user';

/**
 * What the reducer hands a later step (the outbox of billing changes, the access decision): per
 * subscription it changed and per user it touched, the state as loaded and as written — so that
 * step derives its rows by comparing them, without running the rules again.
 */

const T0 = 1_790_000_000;
const snapshot = (id: string, status: string, created: number) =>
  normaliseEvent(
    event('customer.subscription.updated', subscriptionObject({ id, customer: 'cus_1', status }), { created }),
    defaultBillingConfig,
  );

/** The row the first snapshot made, as the shell would have stored it. */
const stored: SubscriptionState = reduceEvents(
  {
    subscriptions: new Map(),
    users: userDirectory([{ id: 1, email: 'a@example.com', customerId: 'cus_1', status: null }]),
    userSubscriptions: new Map(),
    unresolved: [],
  },
  [snapshot('sub_1', 'active', T0)],
).subscriptions.get('sub_1')!;

const world = (): World => ({
  subscriptions: new Map([['sub_1', stored]]),
  users: userDirectory([{ id: 1, email: 'a@example.com', customerId: 'cus_1', status: 'active' }]),
  userSubscriptions: new Map([[1, new Map([['sub_1', 'active']])]]),
  unresolved: [],
});

describe('reduceEvents: changes, before and after', () => {
  it('each subscription row changed and each user touched, as loaded and as left', () => {
    const effects = reduceEvents(world(), [snapshot('sub_1', 'past_due', T0 + 10), snapshot('sub_2', 'trialing', T0 + 20)]);
    expect(effects.changes.subscriptions.get('sub_1')).toMatchObject({ before: stored, after: { status: 'past_due', userId: 1 } });
    expect(effects.changes.subscriptions.get('sub_2')).toMatchObject({ before: undefined, after: { status: 'trialing', userId: 1 } });
    expect(effects.changes.users.get(1)).toEqual({
      before: { customerId: 'cus_1', status: 'active', subscriptions: new Map([['sub_1', 'active']]) },
      after: {
        customerId: 'cus_1',
        status: 'trialing',
        subscriptions: new Map([
          ['sub_1', 'past_due'],
          ['sub_2', 'trialing'],
        ]),
      },
    });
    // The rows to write are the changes' `after`.
    expect([...effects.subscriptions]).toEqual([...effects.changes.subscriptions].map(([id, change]) => [id, change.after]));
  });

  it('a stale event changes no row; its user is touched with the same state before and after', () => {
    const effects = reduceEvents(world(), [snapshot('sub_1', 'incomplete', T0 - 10)]);
    expect(effects.results.get([...effects.results.keys()][0]!)?.outcome).toBe('stale');
    expect(effects.changes.subscriptions.size).toBe(0);
    const user = effects.changes.users.get(1)!;
    expect(user.after).toEqual(user.before);
    expect(effects.users.size).toBe(0);
  });

  it('several events of one subscription: before is the row as loaded, after as the last left it', () => {
    const effects = reduceEvents(world(), [snapshot('sub_1', 'past_due', T0 + 10), snapshot('sub_1', 'canceled', T0 + 20)]);
    expect(effects.changes.subscriptions.get('sub_1')).toMatchObject({ before: { status: 'active' }, after: { status: 'canceled' } });
    expect(effects.transitions.map((t) => [t.from, t.to])).toEqual([
      ['active', 'past_due'],
      ['past_due', 'canceled'],
    ]);
  });
});
