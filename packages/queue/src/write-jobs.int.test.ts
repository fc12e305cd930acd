import { event, invoiceObject, stripeId } from '@billing/stripe-simulator/events';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { startTestWorker, type Fate, type TestWorker } from '@billing/testing/scripted-worker';
import { describeEachBackend, openTestQueue, testRedisUrl, type QueueBackend, type TestQueue } from '@billing/testing/test-queue';
import type { JobType } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StripeEventJobData } from './contract';
import { openEventQueue, type EventQueue } from './event-queue';
import { openQueueStore } from './open-queue-store';
import type { QueueJob, QueueStore } from './queue-store';
import { writeRedisJobs, type RedisWriteOptions } from './redis/write-jobs';

type EventJob = QueueJob<StripeEventJobData>;

/** A job the ingress would write for a fresh real-shaped event. */
function eventJob(): EventJob {
  const paid = event('invoice.paid', invoiceObject({ subscription: stripeId('sub'), customer: stripeId('cus') }));
  return { name: paid.type, jobId: paid.id, data: paid };
}

/** The same event delivered again, as the ingress would write it now (signed with today's key, say). */
function redelivered(job: EventJob): EventJob {
  return { ...job, data: { ...job.data, _signature: { v: 2, kid: 'today', mac: 'fresh' } } as StripeEventJobData };
}

interface Harness {
  t: TestDatabase;
  q: TestQueue;
  worker: TestWorker;
  /** Writes the job and lets the test worker bring it to `fate`'s state. */
  bring: (job: EventJob, fate: Fate) => Promise<void>;
  close: () => Promise<void>;
}

async function openHarness(backend: QueueBackend, label: string): Promise<Harness> {
  const t = await createTestDatabase(`write_jobs_${backend}`);
  const q = await openTestQueue(backend, t.url, label);
  const worker = startTestWorker(q.queue, q.config);
  const target = { fail: 'failed', complete: 'completed', hold: 'active' } as const;
  return {
    t,
    q,
    worker,
    bring: async (job, fate) => {
      worker.plan(job.jobId, fate);
      expect(await q.store.writeJobs(q.queue, [job])).toEqual(['added']);
      await worker.until(job.jobId, target[fate]);
    },
    close: async () => {
      await worker.close();
      await q.close();
      await t.drop();
    },
  };
}

/** Makes a failed job look like one failed for stalling: a stall count past the limit and a deferred failure. */
async function markStalled(backend: QueueBackend, h: Harness, jobId: string): Promise<void> {
  if (backend === 'redis') {
    const redis = new Redis(testRedisUrl()!);
    await redis.hset(h.q.queue.toKey(jobId), 'stc', '4', 'defa', 'job stalled more than allowable limit');
    redis.disconnect();
    return;
  }
  const client = new pg.Client({ connectionString: h.t.url });
  await client.connect();
  await client.query(
    `update bullmq.job set stalled_count = 4, deferred_failure = 'job stalled more than allowable limit' where queue = $1 and id = $2`,
    [h.q.name, jobId],
  );
  await client.end();
}

describeEachBackend('store.writeJobs', (backend) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(backend, 'write-jobs');
  });
  afterAll(async () => {
    await h?.close();
  });

  afterEach(async () => {
    await h.q.queue.resume(); // a test that failed while the queue was paused leaves the next ones a working queue
  });

  it('writes a batch mixing new, repeated, waiting, active, completed, delayed and failed ids in one step', async () => {
    const [fresh, twice, waiting, active, completed, delayed, failed] = Array.from({ length: 7 }, eventJob) as EventJob[];
    await h.bring(active!, 'hold');
    await h.bring(completed!, 'complete');
    await h.bring(failed!, 'fail');
    await h.q.queue.add(delayed!.name, delayed!.data, { jobId: delayed!.jobId, delay: 60_000 });
    await h.q.queue.pause(); // from here on, waiting jobs stay waiting
    expect(await h.q.store.writeJobs(h.q.queue, [waiting!])).toEqual(['added']);
    expect((await h.q.queue.getJob(failed!.jobId))?.attemptsMade).toBe(1);

    const batch = [fresh, twice, twice, waiting, active, completed, delayed, failed, failed] as EventJob[];
    const outcomes = await h.q.store.writeJobs(h.q.queue, batch, { retryFailed: true });

    expect(outcomes).toEqual(['added', 'added', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'retried', 'duplicate']);
    const ids = [fresh, twice, waiting, active, completed, delayed, failed].map((j) => j!.jobId);
    const states = await Promise.all(ids.map((id) => h.q.queue.getJobState(id)));
    expect(states).toEqual(['waiting', 'waiting', 'waiting', 'active', 'completed', 'delayed', 'waiting']);
    const retried = await h.q.queue.getJob(failed!.jobId);
    expect(retried?.attemptsMade).toBe(0);
    expect(retried?.attemptsStarted).toBe(0);
    expect(retried?.failedReason ?? undefined).toBeUndefined();
    expect((await h.q.queue.getJob(fresh!.jobId))?.data).toEqual(fresh!.data);
    // One job per id, none added twice. (Of a paused queue, Postgres counts the waiting jobs as paused.)
    const {
      waiting: w = 0,
      paused = 0,
      ...counts
    } = await h.q.queue.getJobCounts('waiting', 'paused' as JobType, 'active', 'completed', 'failed', 'delayed', 'prioritized');
    expect({ waiting: w + paused, ...counts }).toEqual({ waiting: 4, active: 1, completed: 1, failed: 0, delayed: 1, prioritized: 0 });
    await h.q.queue.resume();
    h.worker.release();
  });

  it('a redelivery gives a failed job the newly verified data and starts it over: no stall count, no deferred failure', async () => {
    const job = eventJob();
    await h.bring(job, 'fail');
    await markStalled(backend, h, job.jobId);
    expect((await h.q.queue.getJob(job.jobId))?.stalledCounter).toBe(4);
    await h.q.queue.pause();
    const again = redelivered(job);
    expect(await h.q.store.writeJobs(h.q.queue, [again], { retryFailed: true })).toEqual(['retried']);
    const stored = await h.q.queue.getJob(job.jobId);
    expect(stored?.data).toEqual(again.data);
    expect(stored?.stalledCounter ?? 0).toBe(0);
    expect(stored?.deferredFailure ?? undefined).toBeUndefined();
    expect(await h.q.queue.getJobState(job.jobId)).toBe('waiting');
    // A job in any other state keeps the data it has: a redelivery of a completed event changes nothing.
    h.worker.plan(job.jobId, 'complete');
    await h.q.queue.resume();
    await h.worker.until(job.jobId, 'completed');
    expect(await h.q.store.writeJobs(h.q.queue, [redelivered(job)], { retryFailed: true })).toEqual(['duplicate']);
    expect((await h.q.queue.getJob(job.jobId))?.data).toEqual(again.data);
  });

  it('leaves a failed job failed, answering duplicate, when retryFailed is off', async () => {
    const failed = eventJob();
    await h.bring(failed, 'fail');
    expect(await h.q.store.writeJobs(h.q.queue, [failed])).toEqual(['duplicate']);
    expect(await h.q.queue.getJobState(failed.jobId)).toBe('failed');
  });

  describe('across ingress replicas (two stores)', () => {
    let other: { store: QueueStore; queue: EventQueue };
    beforeAll(async () => {
      const store = openQueueStore(h.q.config, { role: 'producer' });
      other = { store, queue: openEventQueue(store, h.q.name) };
      await other.queue.waitUntilReady();
    });
    afterAll(async () => {
      await other?.queue.close();
      await other?.store.close();
    });

    it('gives exactly one of two concurrent first deliveries "added"', async () => {
      for (let round = 0; round < 20; round += 1) {
        const job = eventJob();
        const answers = (await Promise.all([h.q.store.writeJobs(h.q.queue, [job]), other.store.writeJobs(other.queue, [job])])).flat();
        expect(answers.sort()).toEqual(['added', 'duplicate']);
      }
    });

    it('gives exactly one of two concurrent redeliveries of a failed event "retried", and the job fresh attempts once', async () => {
      const job = eventJob();
      await h.bring(job, 'fail');
      await h.q.queue.pause(); // so the retried job stays waiting while we look
      const answers = (
        await Promise.all([
          h.q.store.writeJobs(h.q.queue, [job], { retryFailed: true }),
          other.store.writeJobs(other.queue, [job], { retryFailed: true }),
        ])
      ).flat();
      expect(answers.sort()).toEqual(['duplicate', 'retried']);
      expect(await h.q.queue.getJobState(job.jobId)).toBe('waiting');
      await h.q.queue.resume();
      // The invalid event fails once more, and only once: nothing re-queues it by itself.
      await h.worker.until(job.jobId, 'failed');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(h.worker.runs(job.jobId)).toBe(2);
      expect((await h.q.queue.getJob(job.jobId))?.attemptsMade).toBe(1);
    });
  });
});

describe.skipIf(!testRedisUrl())('Redis: both transports write the same (inline MULTI, and the pipeline a Cluster needs)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness('redis', 'write-jobs-transport');
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each<RedisWriteOptions['transport']>(['inline', 'pipeline'])('%s: new, repeated and failed ids', async (transport) => {
    const [fresh, failed] = [eventJob(), eventJob()];
    await h.bring(failed, 'fail');
    expect(await writeRedisJobs(h.q.queue, [fresh, fresh, failed], { retryFailed: true, transport })).toEqual([
      'added',
      'duplicate',
      'retried',
    ]);
  });
});

describe.skipIf(!testRedisUrl())('Redis: when Redis refuses (private redis-server)', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  let store: QueueStore;
  let queue: EventQueue;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    admin = new Redis(redis.url);
    store = openQueueStore({ backend: 'redis', redis: { url: redis.url }, prefix: 'bull' }, { role: 'producer' });
    queue = openEventQueue(store, 'write-refused');
    await queue.waitUntilReady();
  });
  afterEach(async () => {
    await admin.config('SET', 'maxmemory', '0');
  });
  afterAll(async () => {
    await queue?.close();
    await store?.close();
    admin?.disconnect();
    await redis?.dispose();
  });

  it('rejects the whole batch and adds none of it when Redis is out of memory (noeviction), then writes again', async () => {
    // The first transaction on this connection: its scripts' bodies ride in it, and are refused with it.
    await admin.config('SET', 'maxmemory', '1');
    const jobs = [eventJob(), eventJob(), eventJob()];
    await expect(store.writeJobs(queue, jobs, { retryFailed: true })).rejects.toThrow(/OOM|EXECABORT/);
    await admin.config('SET', 'maxmemory', '0');
    for (const job of jobs) expect(await queue.getJob(job.jobId)).toBeUndefined();
    expect(await store.writeJobs(queue, jobs, { retryFailed: true })).toEqual(['added', 'added', 'added']);
  });

  it('after SCRIPT FLUSH, fails one batch (adding nothing), then writes again on the same connection', async () => {
    expect(await store.writeJobs(queue, [eventJob()])).toEqual(['added']);
    await admin.script('FLUSH');
    const refused = eventJob();
    await expect(store.writeJobs(queue, [refused])).rejects.toThrow(/NOSCRIPT/);
    expect(await queue.getJob(refused.jobId)).toBeUndefined();
    const job = eventJob();
    expect(await store.writeJobs(queue, [job])).toEqual(['added']);
    expect((await queue.getJob(job.jobId))?.data).toEqual(job.data);
  });
});
