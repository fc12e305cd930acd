import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { users, webhookEvents } from '@billing/db/schema';
import type { StripeEventJobData, StripeEventJobResult } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';
import { createWorkerMetrics } from './metrics';
import { createProcessor } from './processor';

/**
 * Two jobs of one event id in one batch (a stalled job picked up again by the same worker while
 * its first copy still waits in the batcher): whichever holds the job's lock must end as the
 * event did. A copy that completes `duplicate` while the first copy's transaction failed
 * acknowledges an event nothing applied (issue 19, item 1).
 */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('processor_copies');
  await t.sql.unsafe(`
    create function refuse_subscription() returns trigger language plpgsql as $$
    begin
      if new.stripe_subscription_id like 'sub_refused%' then raise exception 'refused by the test' using errcode = 'P0001'; end if;
      return new;
    end $$;
    create trigger refuse_subscription before insert or update on subscriptions for each row execute function refuse_subscription()`);
  await t.db.insert(users).values({ email: 'copies@example.com', stripeCustomerId: 'cus_copies' });
});
afterAll(async () => {
  await t?.drop();
});

const asJob = (data: StripeEventJobData) =>
  ({ data, attemptsMade: 0, attemptsStarted: 1 }) as unknown as Job<StripeEventJobData, StripeEventJobResult>;

describe('processor: two copies of one event in one batch', () => {
  it('both fail when the transaction fails, and the ledger holds nothing', async () => {
    const process = createProcessor({
      connections: [t.connection()],
      reconnect: () => t.connection(),
      signer: testSigner,
      config: defaultBillingConfig,
      metrics: createWorkerMetrics(createRegistry('processor-copies')),
      logger: { info: vi.fn(), warn: vi.fn(), error: vi.fn() } as unknown as Logger,
      sdkApiVersion: 'test',
      rerun: async () => 0,
      batch: { maxSize: 50, maxWaitMs: 50 },
    });
    const refused = event('customer.subscription.created', subscriptionObject({ id: 'sub_refused', customer: 'cus_copies' }));
    const data = signedJob(refused);
    const settled = await Promise.allSettled([process(asJob(data)), process(asJob(data))]);
    expect(settled.map((s) => (s.status === 'rejected' ? (s.reason as Error).message : s.value.outcome))).toEqual([
      'refused by the test',
      'refused by the test',
    ]);
    expect(await t.db.select().from(webhookEvents)).toEqual([]);
  });
});
