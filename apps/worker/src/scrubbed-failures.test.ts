import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { defaultBillingConfig } from '@billing/billing';
import { users } from '@billing/db/schema';
import { createEventQueue, producerConnection, type EventQueue } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { createRegistry } from '@billing/runtime/metrics';
import { createTestDatabase, uniqueQueueName, type TestDatabase } from '@billing/testing/database';
import { signedJob, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { checkoutSessionObject, event } from '@billing/testing/stripe-events';
import { waitFor } from '@billing/testing/wait-for';
import { startWorker, type WorkerHandle } from './worker';

const redisUrl = inject('redisUrl');
const EMAIL = 'jane.doe@example.com';
let t: TestDatabase;
let producer: ReturnType<typeof producerConnection>;
let queue: EventQueue;
let handle: WorkerHandle;
const lines: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase('worker_scrub');
  producer = producerConnection(redisUrl);
  const queueName = uniqueQueueName('scrub');
  queue = createEventQueue(producer, { name: queueName });
  const destination = new Writable({ write: (chunk, _encoding, done) => void (lines.push(String(chunk)), done()) });
  handle = await startWorker({
    redis: { url: redisUrl },
    queueName,
    queuePrefix: 'bull',
    concurrency: 2,
    databaseUrl: t.url,
    jobSigningKeys: [TEST_QUEUE_SIGNING_KEY],
    config: defaultBillingConfig,
    logger: createLogger('worker-scrub-test', 'info', destination),
    registry: createRegistry('worker-scrub-test'),
  });
});
afterAll(async () => {
  await handle?.close();
  await queue?.obliterate({ force: true });
  await queue?.close();
  await producer?.quit();
  await t?.drop();
});

describe('a Postgres error while applying an event that carries an email', () => {
  it('is logged and stored (failedReason, stacktrace) without the email, with what an operator needs', async () => {
    await t.db.insert(users).values({ email: EMAIL });
    // The worker binds the customer to the user it finds by the checkout's email: this check
    // refuses that write, and Postgres's detail quotes the whole row ("Failing row contains (…, email, …)").
    await t.sql`alter table users add constraint users_no_scrub_customer check (stripe_customer_id is distinct from 'cus_scrub')`;
    const session = checkoutSessionObject({ subscription: 'sub_scrub', customer: 'cus_scrub', detailsEmail: EMAIL });
    const checkout = event('checkout.session.completed', session);
    await queue.add(checkout.type, signedJob(checkout), { jobId: checkout.id, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    await waitFor(async () => (await queue.getJobState(checkout.id)) === 'failed', 'the job failed for good');
    await waitFor(() => lines.some((line) => line.includes('"alert":"event_failed_permanently"')), 'the ALERT line logged');

    const job = (await queue.getJob(checkout.id))!;
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toBe('new row for relation "users" violates check constraint "users_no_scrub_customer"');
    expect(job.stacktrace).toHaveLength(2);
    for (const stack of job.stacktrace ?? []) {
      expect(stack).toMatch(/^PostgresError: new row for relation "users" violates check constraint "users_no_scrub_customer"\n {4}at /);
    }
    expect(JSON.stringify(job.stacktrace)).not.toContain(EMAIL);

    const log = lines.join('');
    expect(log).not.toContain(EMAIL);
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const retry = logged.find((line) => line.msg === 'event failed; will retry with backoff');
    expect(retry?.err).toMatchObject({
      type: 'PostgresError',
      code: '23514',
      message: 'new row for relation "users" violates check constraint "users_no_scrub_customer"',
      table_name: 'users',
      constraint_name: 'users_no_scrub_customer',
    });
  });
});
