// Types `inject('redisUrl')` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import {
  openEventQueue,
  openQueueStore,
  type EventQueue,
  type QueueStore,
  type StoreWorker,
  type StripeEventJobData,
} from '@billing/queue';
import { signedJob, testSigner, TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';
import { describeEachBackend, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import { runScript } from '@billing/testing/processes';
import { event } from '@billing/stripe-simulator/events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { formatReplayReport, parseReplayArgs, replayFailed } from '../scripts/lib/replay';
import { UsageError } from '../scripts/lib/usage-error';

describe('parseReplayArgs', () => {
  it.each([
    [['--all'], { selector: { all: true }, dryRun: false }],
    [['--all', '--dry-run'], { selector: { all: true }, dryRun: true }],
    [['--type', 'invoice.payment_failed'], { selector: { type: 'invoice.payment_failed' }, dryRun: false }],
    [['--type=invoice.paid', '--dry-run'], { selector: { type: 'invoice.paid' }, dryRun: true }],
    [['--id', 'evt_1AbC'], { selector: { id: 'evt_1AbC' }, dryRun: false }],
  ])('%j', (argv, expected) => {
    expect(parseReplayArgs(argv)).toEqual(expected);
  });

  it.each([
    [[], /say which failed jobs/],
    [['--dry-run'], /say which failed jobs/],
    [['--all', '--type', 'invoice.paid'], /choose one of --all, --type/],
    [['--id', '123'], /not a Stripe event id/],
    [['--id', 'evt_a:b'], /not a Stripe event id/],
    [['--type', 'invoice paid'], /not an event type/],
    [['--everything'], /Unknown option/],
    [['--type'], /argument missing/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseReplayArgs(argv)).toThrow(UsageError);
    expect(() => parseReplayArgs(argv)).toThrow(message);
  });
});

describeEachBackend('replayFailed', (backend) => {
  let location: TestQueueLocation;
  let store: QueueStore;
  let consumer: QueueStore;
  let queueName: string;
  let queue: EventQueue;
  const workers: StoreWorker[] = [];

  beforeAll(async () => {
    location = await testQueueLocation(backend, 'replay');
    store = openQueueStore(location.config, { role: 'producer' });
    consumer = openQueueStore(location.config, { role: 'consumer' });
  });
  beforeEach(() => {
    queueName = uniqueQueueName('replay');
    queue = openEventQueue(store, queueName);
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
  });
  afterAll(async () => {
    await store?.close();
    await consumer?.close();
    await location?.drop();
  });

  /** Adds events (signed as the ingress does) with 2 attempts and no backoff, and lets a worker fail every attempt. */
  async function failForGood(events: StripeEventJobData[], unsigned: ReadonlySet<string> = new Set()): Promise<void> {
    for (const e of events)
      await queue.add(e.type, unsigned.has(e.id) ? e : signedJob(e), { jobId: e.id, attempts: 2, backoff: undefined });
    const worker = consumer.worker(
      queueName,
      async () => {
        throw new Error('database unreachable (outage)');
      },
      {},
    );
    try {
      await expect.poll(async () => (await queue.getJobCounts('failed')).failed, { timeout: 15_000 }).toBe(events.length);
    } finally {
      await worker.close();
    }
    for (const e of events) expect((await queue.getJob(e.id))?.attemptsMade).toBe(2);
  }

  const now = Math.floor(Date.now() / 1000);
  const paidOld = () => event('invoice.paid', { object: 'invoice' }, { created: now - 300 });
  const paidNew = () => event('invoice.paid', { object: 'invoice' }, { created: now - 100 });
  const updated = () => event('customer.subscription.updated', { object: 'subscription' }, { created: now - 200 });

  it('--dry-run lists the failed jobs, oldest event first, and changes nothing', async () => {
    const [a, b, c] = [paidNew(), updated(), paidOld()];
    await failForGood([a, b, c]);
    const report = await replayFailed(queue, { selector: { all: true }, dryRun: true });
    expect(report.matched.map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    expect(report.matched[0]).toMatchObject({ type: 'invoice.paid', attemptsMade: 2, failedReason: 'database unreachable (outage)' });
    expect(report.retried).toEqual([]);
    for (const e of [a, b, c]) expect(await queue.getJobState(e.id)).toBe('failed');
    const text = formatReplayReport(report);
    expect(text).toContain('3 would be retried');
    expect(text).toContain(`${c.id}  invoice.paid  attempts 2 failed`);
    expect(text).toContain('Dry run: nothing changed');
  });

  it('--type retries only that type, resetting the attempt counts', async () => {
    const [a, b, c] = [paidNew(), updated(), paidOld()];
    await failForGood([a, b, c]);
    const report = await replayFailed(queue, { selector: { type: 'invoice.paid' }, dryRun: false });
    expect(report.retried).toEqual([c.id, a.id]);
    for (const e of [a, c]) {
      expect(await queue.getJobState(e.id)).toBe('waiting');
      const job = await queue.getJob(e.id);
      expect(job?.attemptsMade).toBe(0);
      expect(job?.attemptsStarted).toBe(0);
    }
    expect(await queue.getJobState(b.id)).toBe('failed');
    expect(formatReplayReport(report)).toContain('Retried 2 of 2');
  });

  it('--id retries one job; a job that is not failed, or unknown, is reported and left alone', async () => {
    const [a, b] = [paidOld(), updated()];
    await failForGood([a, b]);
    const one = await replayFailed(queue, { selector: { id: b.id }, dryRun: false });
    expect(one.retried).toEqual([b.id]);
    expect(await queue.getJobState(b.id)).toBe('waiting');
    expect(await queue.getJobState(a.id)).toBe('failed');

    const again = await replayFailed(queue, { selector: { id: b.id }, dryRun: false });
    expect(again.retried).toEqual([]);
    expect(again.skipped).toEqual([{ id: b.id, reason: 'is waiting, not failed' }]);

    const unknown = await replayFailed(queue, { selector: { id: 'evt_doesnotexist' }, dryRun: false });
    expect(unknown.skipped[0]?.reason).toMatch(/no such job.*backfill/);
  });

  it('a replayed job gets its full schedule: it survives one more failure and is then processed', async () => {
    const [a, b] = [paidOld(), updated()];
    await failForGood([a, b]);
    await replayFailed(queue, { selector: { all: true }, dryRun: false });

    // Fails once more (the database is still warming up), then succeeds: with the attempt
    // count reset this is attempt 1 of 2, so the job is retried rather than failed again.
    const seen = new Map<string, number>();
    const worker = consumer.worker<StripeEventJobData, { outcome: string }>(
      queueName,
      async (job) => {
        const n = (seen.get(job.id!) ?? 0) + 1;
        seen.set(job.id!, n);
        if (n === 1) throw new Error('still warming up');
        return { outcome: 'applied' };
      },
      {},
    );
    workers.push(worker);
    for (const e of [a, b]) {
      await expect.poll(() => queue.getJobState(e.id), { timeout: 15_000 }).toBe('completed');
      expect(seen.get(e.id)).toBe(2);
    }
  });

  it('with the signing key, lists a job the worker cannot verify (queued unsigned, or under a retired key) and says plainly what to do, without retrying it', async () => {
    const [legacy, signed] = [paidOld(), paidNew()];
    await failForGood([legacy, signed], new Set([legacy.id]));
    const report = await replayFailed(queue, { selector: { all: true }, dryRun: false }, testSigner);
    expect(report.retried).toEqual([signed.id]);
    expect(report.skipped).toEqual([
      {
        id: legacy.id,
        reason:
          'cannot be verified (the job is not signed by the ingress): retrying it would only fail again; get the event again from Stripe: "Resend" it in the dashboard (or let Stripe retry), or npm run backfill -- --since <its date>',
      },
    ]);
    expect(await queue.getJobState(legacy.id)).toBe('failed');
    expect(formatReplayReport(report)).toContain(`${legacy.id}  skipped: cannot be verified`);
  });
});

describeEachBackend('npm run replay (the CLI)', (backend) => {
  const queueName = uniqueQueueName('replay-cli');
  let location: TestQueueLocation;
  beforeAll(async () => {
    location = await testQueueLocation(backend, 'replay_cli');
  });
  afterAll(async () => {
    const store = openQueueStore(location.config, { role: 'producer' });
    const queue = openEventQueue(store, queueName);
    await queue.obliterate({ force: true });
    await queue.close();
    await store.close();
    await location.drop();
  });
  const run = (args: string[], env: Record<string, string> = {}) =>
    runScript(
      'scripts/replay.ts',
      args,
      { ...location.env, QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY, QUEUE_NAME: queueName, ...env },
      30_000,
    );

  it('prints usage and exits 2 without a selector', async () => {
    const result = await run([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('replay: say which failed jobs');
    expect(result.stderr).toContain('usage: npm run replay --');
  });

  it('says there is nothing to replay on an empty queue', async () => {
    const result = await run(['--all']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('No failed jobs: nothing to replay.');
  });

  it('says what to start when the queue does not answer', async () => {
    const unreachable: Record<string, string> =
      backend === 'redis' ? { REDIS_URL: 'redis://127.0.0.1:1' } : { QUEUE_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/billing' };
    const result = await run(['--all'], unreachable);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`replay: the queue is not answering at ${backend} 127.0.0.1:1`);
    expect(result.stderr).toContain('docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d postgres redis');
  });
});
