import { describe, expect, it } from 'vitest';
import { webhookEvents } from '@billing/db/schema';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { T0, useApplyFixture } from './apply-events.fixture';
import { sweepUnresolved } from './apply-events';

/**
 * The periodic sweep pages through the `unresolved` events whose user can be found. Rows without a
 * stored event (recorded before the ledger kept events, or erased) stay `unresolved` — only their
 * job can bring them back — and must not hold up the rest (issue 19, item 5).
 */
const { database, apply, addUser, subscriptionRow, ledger } = useApplyFixture('sweep');

describe('sweepUnresolved', () => {
  it('pages past rows without a stored event: every resolvable event is swept, each row without its event reported once', async () => {
    await addUser('legacy@example.com', 'cus_sweeplegacy');
    // More rows without their event than a page holds, oldest first (no time: recorded before times were kept).
    const legacy = Array.from({ length: 60 }, (_, i) => `evt_sweeplegacy${String(i).padStart(3, '0')}`);
    await database()
      .db.insert(webhookEvents)
      .values(
        legacy.map((id) => ({
          stripeEventId: id,
          eventType: 'customer.subscription.updated',
          stripeCustomerId: 'cus_sweeplegacy',
          stripeSubscriptionId: 'sub_sweeplegacy',
          outcome: 'unresolved' as const,
        })),
      );
    // An event whose customer the host application binds later: stored, waiting for the sweep.
    const created = event('customer.subscription.created', subscriptionObject({ id: 'sub_sweeplate', customer: 'cus_sweeplate' }), {
      created: T0,
    });
    expect((await apply(created)).outcome).toBe('unresolved');
    const late = await addUser('late@example.com', 'cus_sweeplate');

    const result = await sweepUnresolved(database().connection(), 50);
    expect([...result.reapplied.keys()]).toEqual([created.id]);
    expect(await subscriptionRow('sub_sweeplate')).toMatchObject({ userId: late.id, status: 'active' });
    expect([...result.withoutEvent].sort()).toEqual(legacy);
    const outcomes = new Map((await ledger()).map((r) => [r.stripeEventId, r.outcome]));
    expect(outcomes.get(created.id)).toBe('applied');
    expect(legacy.every((id) => outcomes.get(id) === 'unresolved')).toBe(true);
  });

  it('ends when nothing is resolvable', async () => {
    expect(await sweepUnresolved(database().connection())).toEqual({ reapplied: new Map(), withoutEvent: [], outboxIds: [] });
  });
});
