import { beforeAll, describe, expect, it } from 'vitest';
import { event, subscriptionObject, type StripeEvent } from '@billing/stripe-simulator/events';
import { useApplyFixture } from './apply-events.fixture';
import { applyEvents } from './apply-events';
import { defaultBillingConfig } from './config';

/**
 * Two copies of one event id in one batch (a stalled job picked up again while its first copy
 * still waits in the batcher): the copy shares the fate of its first copy. Its job may be the one
 * holding the lock, so a copy answered `duplicate` while the first copy failed would complete the
 * job with nothing applied (issue 19, item 1).
 */
const { database, addUser, ledger, subscriptionRow } = useApplyFixture('apply_copies');

beforeAll(async () => {
  // Real Postgres refuses any write of a subscription whose id starts `sub_refused`.
  await database().sql.unsafe(`
    create function refuse_subscription() returns trigger language plpgsql as $$
    begin
      if new.stripe_subscription_id like 'sub_refused%' then raise exception 'refused by the test' using errcode = 'P0001'; end if;
      return new;
    end $$;
    create trigger refuse_subscription before insert or update on subscriptions for each row execute function refuse_subscription()`);
});

const created = (subscription: string) =>
  event('customer.subscription.created', subscriptionObject({ id: subscription, customer: 'cus_copies', status: 'active' }));

const apply = async (events: StripeEvent[]) => (await applyEvents(database().connection(), events, defaultBillingConfig)).results;

describe('a copy of an event inside its batch', () => {
  it('gets the error of its first copy when the transaction fails, and nothing is written', async () => {
    await addUser('copies@example.com', 'cus_copies');
    const refused = created('sub_refused1');
    const results = await apply([refused, refused]);
    expect(results.map((r) => (r instanceof Error ? r.message : r.outcome))).toEqual(['refused by the test', 'refused by the test']);
    expect(await ledger()).toEqual([]);
  });

  it('follows its first copy when the batch falls back to one transaction per event', async () => {
    await addUser('copies@example.com', 'cus_copies');
    const refused = created('sub_refused2');
    const fine = created('sub_fine2');
    const results = await apply([refused, fine, refused, fine]);
    expect(results.map((r) => (r instanceof Error ? r.message : r.outcome))).toEqual([
      'refused by the test',
      'applied',
      'refused by the test',
      'duplicate',
    ]);
    expect((await ledger()).map((r) => [r.stripeEventId, r.outcome])).toEqual([[fine.id, 'applied']]);
    expect(await subscriptionRow('sub_fine2')).toMatchObject({ status: 'active' });
  });

  it('is a duplicate once its first copy committed', async () => {
    await addUser('copies@example.com', 'cus_copies');
    const fine = created('sub_fine3');
    const results = await apply([fine, fine]);
    expect(results).toEqual([
      expect.objectContaining({ outcome: 'applied' }),
      { outcome: 'duplicate', subscriptionId: 'sub_fine3', customerId: 'cus_copies' },
    ]);
  });
});
