// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import {
  openEventQueue,
  openQueueStore,
  type EventQueue,
  type QueueConfig,
  type QueueStore,
  type StripeEventJobData,
} from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { describeEachBackend, dropQueue, queueEnvOf, testQueueConfig, uniqueQueueName } from '@billing/testing/test-queue';
import { signedJob, testSigner, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { runScript } from '@billing/testing/processes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  jobPlace,
  keysHolding,
  laterCheckout,
  rawQueue,
  runJobs,
  seedPerson,
  tables,
  workOffVerified,
  type SeededPerson,
} from './erase.fixture';

/** `npm run erase`, run as an operator runs it, against real Postgres and the queue on either backend. */

describeEachBackend('npm run erase', (backend) => {
  let t: TestDatabase;
  let config: QueueConfig;
  let store: QueueStore;
  let queue: EventQueue;
  let alice: SeededPerson;
  let bob: SeededPerson;
  let waiting: ReturnType<typeof laterCheckout>;
  const queueName = uniqueQueueName('erase');
  const erase = (...args: string[]) =>
    runScript(
      'scripts/erase.ts',
      args,
      { DATABASE_URL: t.url, ...queueEnvOf(config), QUEUE_NAME: queueName, QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY },
      30_000,
    );
  const jobKey = (id: string) => jobPlace(config, queueName, id);

  beforeAll(async () => {
    t = await createTestDatabase('erase');
    config = await testQueueConfig(backend, t.url);
    store = openQueueStore(config, { role: 'producer' });
    queue = openEventQueue(store, queueName);
    alice = await seedPerson(t, 'alice');
    bob = await seedPerson(t, 'bob');
    // Alice: a completed checkout and a failed invoice (its reason naming her email and her customer id, in its own
    // mixed case); Bob: a completed checkout.
    await runJobs(config, queue, [alice.checkout, alice.invoice, bob.checkout], alice.invoice, alice);
    // …and a later checkout of Alice's, still waiting.
    waiting = laterCheckout(alice);
    await queue.add(waiting.type, signedJob(waiting), { jobId: waiting.id });
  });
  afterAll(async () => {
    await queue?.close();
    await store?.close();
    await dropQueue(config, queueName);
    await t?.drop();
  });

  describe('the whole run', () => {
    it('a usage error exits 2 with the usage', async () => {
      const run = await erase('--email', alice.email, '--customer', alice.customer);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(
        /^erase: choose one of --email, --customer\n\nusage: npm run erase -- \(--email <address> \| --customer <cus_…>\)/,
      );
    });

    it('changes nothing while one of the person’s events is still waiting to be applied, and says why', async () => {
      const [before, raw] = [await tables(t), await rawQueue(config, queueName)];
      const run = await erase('--email', alice.email.toUpperCase());
      expect(run.status).toBe(1);
      expect(run.stdout).toContain(`erase --email ${alice.email}: customers ${alice.customer}`);
      expect(run.stdout).toContain(`Not erased: 1 of this person's events are still to be applied`);
      expect(run.stdout).toContain(`  ${waiting.id}  checkout.session.completed  waiting`);
      expect(await tables(t)).toEqual(before);
      expect(await rawQueue(config, queueName)).toEqual(raw);
    });

    it('--dry-run --force says what it would do and changes nothing', async () => {
      const [before, raw] = [await tables(t), await rawQueue(config, queueName)];
      const run = await erase('--customer', alice.customer, '--dry-run', '--force');
      expect([run.status, run.stderr]).toEqual([0, '']);
      expect(run.stdout.split('\n')).toEqual(
        expect.arrayContaining([
          "users: 1 to be unlinked (stripe_customer_id and subscription_status cleared; deleting the row is the host application's job)",
          'subscriptions: 2 to be unlinked (user_id and stripe_customer_id cleared; the billing rows stay): ' +
            alice.subscriptions.join(', '),
          'ledger: 3 rows to be cleared (stripe_customer_id and the stored unresolved event; event id, type and outcome stay)',
          'host contract: 2 outbox rows, 1 access decisions, 1 entitlements summaries to be deleted',
          'jobs: 1 completed to be removed, 1 failed to be removed, 1 waiting to be re-signed without email, 0 skipped',
          'Dry run: nothing changed.',
        ]),
      );
      expect(await tables(t)).toEqual(before);
      expect(await rawQueue(config, queueName)).toEqual(raw);
    });

    it('--force: rows unlinked, completed and failed jobs removed, the waiting one re-signed without the email; Bob untouched', async () => {
      const [before, bobJob] = [await tables(t), (await rawQueue(config, queueName)).get(jobKey(bob.checkout.id))];
      const run = await erase('--email', alice.email, '--force');
      expect(run.stderr).toBe('');
      expect(run.status).toBe(1); // the waiting job still names the customer: run again once it completed
      expect(run.stdout).toContain('users: 1 unlinked');
      expect(run.stdout).toContain('subscriptions: 2 unlinked');
      expect(run.stdout).toContain('ledger: 3 rows cleared');
      expect(run.stdout).toContain('host contract: 2 outbox rows, 1 access decisions, 1 entitlements summaries deleted');
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
      // What the host contract held of Alice is gone.
      expect(after.outbox.filter((o) => o.userId === alice.userId || o.stripeCustomerId === alice.customer)).toEqual([]);
      expect(after.access.filter((a) => a.userId === alice.userId)).toEqual([]);
      expect(after.entitlements.filter((e) => e.stripeCustomerId === alice.customer)).toEqual([]);
      const others = (s: Awaited<ReturnType<typeof tables>>) => ({
        users: s.users.filter((u) => u.id !== alice.userId),
        subscriptions: s.subscriptions.filter((x) => !alice.subscriptions.includes(x.stripeSubscriptionId)),
        ledger: s.ledger.filter((l) => !alice.subscriptions.includes(l.stripeSubscriptionId ?? '')),
        outbox: s.outbox.filter((o) => o.userId !== alice.userId),
        access: s.access.filter((a) => a.userId !== alice.userId),
        entitlements: s.entitlements.filter((e) => e.stripeCustomerId !== alice.customer),
      });
      expect(others(before).outbox).toHaveLength(2); // Bob's
      expect(others(after)).toEqual(others(before));

      // The queue, read raw: Alice's email is nowhere; her customer id (mixed case: the event log's entries are matched
      // whatever the case) only in the waiting job, which the worker still accepts.
      const raw = await rawQueue(config, queueName);
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
      expect(raw.get(jobKey(bob.checkout.id))).toEqual(bobJob);
      expect(keysHolding(raw, bob.email)).toEqual([jobKey(bob.checkout.id)]);
    });

    it('run again with --customer once the waiting event is applied: nothing of the person is left, then nothing matches', async () => {
      // The worker takes the re-signed job (its signature verifies); the event finds nobody, so its
      // ledger row is unresolved and names the customer.
      await workOffVerified(config, queue, waiting.id);
      await t.sql`insert into webhook_events (stripe_event_id, event_type, stripe_subscription_id, stripe_customer_id, outcome)
      values (${waiting.id}, ${waiting.type}, ${alice.subscriptions[1]!}, ${alice.customer}, 'unresolved')`;
      const run = await erase('--customer', alice.customer);
      expect([run.status, run.stderr]).toEqual([0, '']);
      expect(run.stdout).toContain('ledger: 1 rows cleared');
      expect(run.stdout).toContain('Done.');
      const raw = await rawQueue(config, queueName);
      expect(keysHolding(raw, alice.customer)).toEqual([]);
      expect(keysHolding(raw, alice.email)).toEqual([]);
      const again = await erase('--customer', alice.customer);
      expect([again.status, again.stdout.split('\n').at(-1)]).toEqual([
        0,
        `Nothing matched: no user, subscription, ledger row or job of customer ${alice.customer}; nothing changed.`,
      ]);
    });
  });

  describe('the event log, and a pending job nobody signed', () => {
    it('deletes the event log entries naming a customer id in its own (mixed) case', async () => {
      const dave = await seedPerson(t, 'dave');
      expect(dave.customer).not.toBe(dave.customer.toLowerCase());
      // A failed job whose reason names only the customer id, as Stripe wrote it.
      await runJobs(config, queue, [dave.invoice], dave.invoice, { email: '', customer: dave.customer });
      expect(keysHolding(await rawQueue(config, queueName), dave.customer).length).toBeGreaterThan(1); // the job and its log entry
      const run = await erase('--customer', dave.customer);
      expect(run.stderr).toBe('');
      expect(keysHolding(await rawQueue(config, queueName), dave.customer)).toEqual([]);
    });

    it('leaves a job whose signature does not verify as it is, says so, and never signs it', async () => {
      const carol = await seedPerson(t, 'carol');
      const forged = laterCheckout(carol);
      // Written into the queue by hand: no Stripe signature, no ingress. Re-signing it would make the worker accept it.
      await queue.add(forged.type, forged as StripeEventJobData, { jobId: forged.id });
      const run = await erase('--email', carol.email, '--force');
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain(`  ${forged.id} skipped: not re-signed: the job is not signed by the ingress; left as it is`);
      const job = await queue.getJob(forged.id);
      expect(job?.data).toEqual(forged);
      expect(testSigner.verify(job?.data)).toMatchObject({ ok: false });
    });
  });
});
