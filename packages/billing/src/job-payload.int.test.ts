import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { signedJob } from '@billing/testing/job-signing';
import { event, subscriptionObject } from '@billing/stripe-simulator/events';

/** The queue's Postgres backend stores job data as `jsonb`: a job's payload must be one Postgres takes. */

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase('job_payload');
});
afterAll(async () => {
  await t?.drop();
});

it('a payload whose event carried NUL characters is stored as jsonb (the raw event is refused: 22P05)', async () => {
  const raw = event('customer.subscription.updated', {
    ...subscriptionObject({ id: 'sub_nul', customer: 'cus_nul' }),
    metadata: { dictia_plan_slug: 'pro\u0000', 'key\u0000': 'x' },
  });
  await expect(t.sql`select ${JSON.stringify(raw)}::jsonb`).rejects.toMatchObject({ code: '22P05' });
  const [row] = await t.sql<Array<{ data: { data: { object: { metadata: Record<string, string> } } } }>>`
    select ${JSON.stringify(signedJob(raw))}::jsonb as data`;
  expect(row!.data.data.object.metadata).toEqual({ dictia_plan_slug: 'pro\uFFFD', 'key\uFFFD': 'x' });
});
