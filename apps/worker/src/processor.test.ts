import type { Job } from 'bullmq';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { users, webhookEvents } from '@billing/db/schema';
import type { StripeEventJobData, StripeEventJobResult } from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { lifecycle } from '@billing/testing/stripe-events';
import { createWorkerMetrics } from './metrics';
import { createProcessor } from './processor';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('processor');
});
afterAll(async () => {
  await t?.drop();
});

const asJob = (data: unknown) => ({ data, attemptsMade: 0 }) as Job<StripeEventJobData, StripeEventJobResult>;

describe('processor', () => {
  it('keeps an applied event completed when re-running its customer\'s unresolved events fails, and says which', async () => {
    await t.db.insert(users).values({ email: 'rerun-fails@example.com' });
    const [checkout, created] = lifecycle({ email: 'rerun-fails@example.com', subscriptionId: 'sub_rerunfail', customerId: 'cus_rerunfail' });
    const logger = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const rerun = vi.fn(async () => {
      throw new Error('Redis went away');
    });
    const process = createProcessor({
      db: t.db,
      config: defaultBillingConfig,
      metrics: createWorkerMetrics(createRegistry('processor-test')),
      logger: logger as unknown as Logger,
      sdkApiVersion: 'test',
      rerun,
    });

    await expect(process(asJob(created))).resolves.toEqual({ outcome: 'unresolved' });
    await expect(process(asJob(checkout))).resolves.toEqual({ outcome: 'applied' });

    expect(rerun).toHaveBeenCalledWith([created!.id]);
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]?.[0]).toMatchObject({ customer: 'cus_rerunfail', unresolved: [created!.id] });
    const [row] = await t.db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, checkout!.id));
    expect(row?.outcome).toBe('applied');
  });
});
