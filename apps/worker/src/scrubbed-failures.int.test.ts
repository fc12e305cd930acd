import { expect, it } from 'vitest';
import { describeEachBackend } from '@billing/testing/test-queue';
import { users } from '@billing/db/schema';
import { signedJob } from '@billing/testing/job-signing';
import { checkoutSessionObject, event } from '@billing/stripe-simulator/events';
import { waitFor } from '@billing/testing/wait-for';
import { useTestWorker } from '../test-support/test-worker';

const EMAIL = 'jane.doe@example.com';

describeEachBackend('a Postgres error while applying an event that carries an email', (backend) => {
  const w = useTestWorker('scrub', backend);

  it('is logged and stored (failedReason, stacktrace) without the email, with what an operator needs', async () => {
    await w.t.db.insert(users).values({ email: EMAIL });
    // The worker binds the customer to the user it finds by the checkout's email: this check
    // refuses that write, and Postgres's detail quotes the whole row ("Failing row contains (…, email, …)").
    await w.t.sql`alter table users add constraint users_no_scrub_customer check (stripe_customer_id is distinct from 'cus_scrub')`;
    const session = checkoutSessionObject({ subscription: 'sub_scrub', customer: 'cus_scrub', detailsEmail: EMAIL });
    const checkout = event('checkout.session.completed', session);
    await w.queue.add(checkout.type, signedJob(checkout), { jobId: checkout.id, attempts: 2, backoff: { type: 'fixed', delay: 50 } });
    await waitFor(async () => (await w.queue.getJobState(checkout.id)) === 'failed', 'the job failed for good');
    await waitFor(() => w.lines.some((line) => line.includes('"alert":"event_failed_permanently"')), 'the ALERT line logged');

    const job = (await w.queue.getJob(checkout.id))!;
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toBe('new row for relation "users" violates check constraint "users_no_scrub_customer"');
    expect(job.stacktrace).toHaveLength(2);
    for (const stack of job.stacktrace ?? []) {
      expect(stack).toMatch(/^PostgresError: new row for relation "users" violates check constraint "users_no_scrub_customer"\n {4}at /);
    }
    expect(JSON.stringify(job.stacktrace)).not.toContain(EMAIL);

    const log = w.lines.join('');
    expect(log).not.toContain(EMAIL);
    const logged = w.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
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
