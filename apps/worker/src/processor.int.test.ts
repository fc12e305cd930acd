import type { Job } from 'bullmq';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { users, webhookEvents } from '@billing/db/schema';
import type { StripeEventJobData, StripeEventJobResult } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { lifecycle, type StripeEvent } from '@billing/stripe-simulator/events';
import { createWorkerMetrics } from './metrics';
import { createProcessor } from './processor';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('processor');
});
afterAll(async () => {
  await t?.drop();
});

const asJob = (event: StripeEvent) =>
  ({ data: signedJob(event), attemptsMade: 0 }) as unknown as Job<StripeEventJobData, StripeEventJobResult>;

describe('processor', () => {
  it('re-runs the job of an unresolved event recorded without its payload once its customer is linked; a failure is logged and the event stays completed', async () => {
    await t.db.insert(users).values({ email: 'rerun-fails@example.com' });
    const [checkout] = lifecycle({ email: 'rerun-fails@example.com', subscriptionId: 'sub_rerunfail', customerId: 'cus_rerunfail' });
    // A row written before the ledger kept unresolved events: only its job can bring it back.
    await t.db.insert(webhookEvents).values({
      stripeEventId: 'evt_legacyunresolved',
      eventType: 'customer.subscription.created',
      stripeCustomerId: 'cus_rerunfail',
      stripeSubscriptionId: 'sub_rerunfail',
      outcome: 'unresolved',
    });
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const rerun = vi.fn(async () => {
      throw new Error('Redis went away');
    });
    const process = createProcessor({
      connections: [t.connection()],
      reconnect: () => t.connection(),
      signer: testSigner,
      config: defaultBillingConfig,
      metrics: createWorkerMetrics(createRegistry('processor-test')),
      logger: logger as unknown as Logger,
      sdkApiVersion: 'test',
      rerun,
    });

    await expect(process(asJob(checkout!))).resolves.toEqual({ outcome: 'applied' });
    await vi.waitFor(() => expect(logger.error).toHaveBeenCalledTimes(1));
    expect(rerun).toHaveBeenCalledWith(['evt_legacyunresolved']);
    expect(logger.error.mock.calls[0]?.[0]).toMatchObject({ unresolved: ['evt_legacyunresolved'] });
    const [row] = await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, checkout!.id));
    expect(row?.outcome).toBe('applied');
  });

  it('applies the events of concurrently active jobs in one transaction, each job with its own outcome', async () => {
    await t.db.insert(users).values({ email: 'batch@example.com' });
    const events = lifecycle({ email: 'batch@example.com', subscriptionId: 'sub_batch', customerId: 'cus_batch' });
    const registry = createRegistry('processor-batch');
    const metrics = createWorkerMetrics(registry);
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const process = createProcessor({
      connections: [t.connection()],
      reconnect: () => t.connection(),
      signer: testSigner,
      config: defaultBillingConfig,
      metrics,
      logger: logger as unknown as Logger,
      sdkApiVersion: 'test',
      rerun: async () => 0,
      batch: { maxSize: 50, maxWaitMs: 20 },
    });
    const outcomes = await Promise.all([...events.slice().reverse(), events[0]!].map((e) => process(asJob(e))));
    expect(outcomes.map((o) => o.outcome)).toEqual(['applied', 'applied', 'applied', 'applied', 'applied', 'applied', 'duplicate']);
    expect(await registry.getSingleMetricAsString('billing_worker_batch_events')).toMatch(
      /^billing_worker_batch_events_count\{app="processor-batch"\} 1$/m,
    );
  });
});
