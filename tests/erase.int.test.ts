// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import type { EventQueue } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { uniqueQueueName } from '@billing/testing/test-queue';
import { signedJob, testSigner } from '@billing/testing/job-signing';
import { runScript } from '@billing/testing/processes';
import { dropQueue } from '@billing/testing/queues';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  keysHolding,
  laterCheckout,
  openTestQueue,
  rawQueue,
  runJobs,
  seedPerson,
  tables,
  workOffVerified,
  type SeededPerson,
} from './erase.fixture';

/** `npm run erase`, run as an operator runs it, against real Postgres and Redis. */

let t: TestDatabase;
let queue: EventQueue;
let redis: Redis;
let alice: SeededPerson;
let bob: SeededPerson;
let waiting: ReturnType<typeof laterCheckout>;
const queueName = uniqueQueueName('erase');
const erase = (...args: string[]) =>
  runScript('scripts/erase.ts', args, { DATABASE_URL: t.url, REDIS_URL: inject('redisUrl'), QUEUE_NAME: queueName }, 30_000);
const jobKey = (id: string) => `bull:${queueName}:${id}`;

beforeAll(async () => {
  t = await createTestDatabase('erase');
  ({ queue, redis } = openTestQueue(queueName));
  alice = await seedPerson(t, 'alice');
  bob = await seedPerson(t, 'bob');
  // Alice: a completed checkout and a failed invoice (its reason naming her email); Bob: a completed checkout.
  await runJobs(queue, [alice.checkout, alice.invoice, bob.checkout], alice.invoice, alice.email);
  // …and a later checkout of Alice's, still waiting.
  waiting = laterCheckout(alice);
  await queue.add(waiting.type, signedJob(waiting), { jobId: waiting.id });
});
afterAll(async () => {
  await queue?.close();
  await redis?.quit();
  await dropQueue(inject('redisUrl'), queueName);
  await t?.drop();
});

describe('npm run erase', () => {
  it('a usage error exits 2 with the usage', async () => {
    const run = await erase('--email', alice.email, '--customer', alice.customer);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(
      /^erase: choose one of --email, --customer\n\nusage: npm run erase -- \(--email <address> \| --customer <cus_…>\)/,
    );
  });

  it('changes nothing while one of the person’s events is still waiting to be applied, and says why', async () => {
    const [before, raw] = [await tables(t), await rawQueue(redis, queueName)];
    const run = await erase('--email', alice.email.toUpperCase());
    expect(run.status).toBe(1);
    expect(run.stdout).toContain(`erase --email ${alice.email}: customers ${alice.customer}`);
    expect(run.stdout).toContain(`Not erased: 1 of this person's events are still to be applied`);
    expect(run.stdout).toContain(`  ${waiting.id}  checkout.session.completed  waiting`);
    expect(await tables(t)).toEqual(before);
    expect(await rawQueue(redis, queueName)).toEqual(raw);
  });

  it('--dry-run --force says what it would do and changes nothing', async () => {
    const [before, raw] = [await tables(t), await rawQueue(redis, queueName)];
    const run = await erase('--customer', alice.customer, '--dry-run', '--force');
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        "users: 1 to be unlinked (stripe_customer_id and subscription_status cleared; deleting the row is the host application's job)",
        'subscriptions: 2 to be unlinked (user_id and stripe_customer_id cleared; the billing rows stay): ' +
          alice.subscriptions.join(', '),
        'ledger: 3 rows to be cleared (stripe_customer_id and the stored unresolved event; event id, type and outcome stay)',
        'jobs: 1 completed to be removed, 1 failed to be removed, 1 waiting to be re-signed without email, 0 skipped',
        'Dry run: nothing changed.',
      ]),
    );
    expect(await tables(t)).toEqual(before);
    expect(await rawQueue(redis, queueName)).toEqual(raw);
  });

  it('--force: rows unlinked, completed and failed jobs removed, the waiting one re-signed without the email; Bob untouched', async () => {
    const [before, bobJob] = [await tables(t), await redis.hgetall(jobKey(bob.checkout.id))];
    const run = await erase('--email', alice.email, '--force');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(1); // the waiting job still names the customer: run again once it completed
    expect(run.stdout).toContain('users: 1 unlinked');
    expect(run.stdout).toContain('subscriptions: 2 unlinked');
    expect(run.stdout).toContain('ledger: 3 rows cleared');
    expect(run.stdout).toContain('jobs: 1 completed removed, 1 failed removed, 1 waiting re-signed without email, 0 skipped');
    expect(run.stdout).toContain(`  failed ${alice.invoice.id}: removed; its event was never applied to billing`);
    expect(run.stdout).toMatch(/queue event stream: \d+ entries naming the person deleted/);

    // Postgres: the billing rows stay, unlinked; Bob's rows are as they were.
    const after = await tables(t);
    expect(after.users.find((u) => u.id === alice.userId)).toMatchObject({
      email: alice.email,
      stripeCustomerId: null,
      subscriptionStatus: null,
    });
    const mine = after.subscriptions.filter((s) => alice.subscriptions.includes(s.stripeSubscriptionId));
    expect(mine.map((s) => [s.userId, s.stripeCustomerId, s.status])).toEqual([
      [null, null, 'active'],
      [null, null, 'active'],
    ]);
    const ledger = after.ledger.filter((l) => alice.subscriptions.includes(l.stripeSubscriptionId ?? ''));
    expect(ledger.map((l) => [l.stripeCustomerId, l.unresolvedInput])).toEqual([
      [null, null],
      [null, null],
      [null, null],
    ]);
    expect(ledger.map((l) => l.outcome)).toEqual(['applied', 'applied', 'unresolved']);
    const others = (s: Awaited<ReturnType<typeof tables>>) => ({
      users: s.users.filter((u) => u.id !== alice.userId),
      subscriptions: s.subscriptions.filter((x) => !alice.subscriptions.includes(x.stripeSubscriptionId)),
      ledger: s.ledger.filter((l) => !alice.subscriptions.includes(l.stripeSubscriptionId ?? '')),
    });
    expect(others(after)).toEqual(others(before));

    // Redis, read raw: Alice's email is nowhere; her customer id only in the waiting job, which the worker still accepts.
    const raw = await rawQueue(redis, queueName);
    expect(keysHolding(raw, alice.email)).toEqual([]);
    expect(keysHolding(raw, alice.customer)).toEqual([jobKey(waiting.id)]);
    for (const id of [alice.checkout.id, alice.invoice.id]) expect(await queue.getJob(id)).toBeUndefined();
    const resigned = await queue.getJob(waiting.id);
    expect(await resigned?.getState()).toBe('waiting');
    const verified = testSigner.verify(resigned?.data);
    expect(verified).toMatchObject({
      ok: true,
      event: { id: waiting.id, data: { object: { customer: alice.customer, customer_details: {} } } },
    });
    expect(verified.ok && 'customer_email' in verified.event.data.object).toBe(false);
    expect(await redis.hgetall(jobKey(bob.checkout.id))).toEqual(bobJob);
    expect(keysHolding(raw, bob.email)).toEqual([jobKey(bob.checkout.id)]);
  });

  it('run again with --customer once the waiting event is applied: nothing of the person is left, then nothing matches', async () => {
    // The worker takes the re-signed job (its signature verifies); the event finds nobody, so its
    // ledger row is unresolved and names the customer.
    await workOffVerified(queue, waiting.id);
    await t.sql`insert into webhook_events (stripe_event_id, event_type, stripe_subscription_id, stripe_customer_id, outcome)
      values (${waiting.id}, ${waiting.type}, ${alice.subscriptions[1]!}, ${alice.customer}, 'unresolved')`;
    const run = await erase('--customer', alice.customer);
    expect([run.status, run.stderr]).toEqual([0, '']);
    expect(run.stdout).toContain('ledger: 1 rows cleared');
    expect(run.stdout).toContain('Done.');
    const raw = await rawQueue(redis, queueName);
    expect(keysHolding(raw, alice.customer)).toEqual([]);
    expect(keysHolding(raw, alice.email)).toEqual([]);
    const again = await erase('--customer', alice.customer);
    expect([again.status, again.stdout.split('\n').at(-1)]).toEqual([
      0,
      `Nothing matched: no user, subscription, ledger row or job of customer ${alice.customer}; nothing changed.`,
    ]);
  });
});
