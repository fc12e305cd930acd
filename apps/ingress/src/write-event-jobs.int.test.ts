import {
  createEventQueue,
  producerConnection,
  writeEventJobs,
  type EventJob,
  type EventQueue,
  type WriteEventJobsOptions,
} from '@billing/queue';
import { uniqueQueueName } from '@billing/testing/database';
import { startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, inject, it } from 'vitest';
import { describeIfRedis } from '@billing/testing/needs-redis';
import { invoiceEvent } from '../test-support/test-ingress';
import { startTestWorker, type Fate, type TestWorker } from '@billing/testing/scripted-worker';

// Redis-only: skips, saying why, where the run has no Redis or no redis-server.
const describe = describeIfRedis({ redis: true, redisServer: true });

/** A job the ingress would write for a fresh real-shaped event. */
function eventJob(): EventJob {
  const { event } = invoiceEvent();
  return { name: event.type, jobId: event.id, data: event };
}

interface Harness {
  queue: EventQueue;
  worker: TestWorker;
  /** Adds the job and lets the test worker bring it to `fate`'s state. */
  bring: (job: EventJob, fate: Fate) => Promise<void>;
  close: () => Promise<void>;
}

async function openHarness(redisUrl: string): Promise<Harness> {
  const connection = producerConnection(redisUrl);
  const queue = createEventQueue(connection, { name: uniqueQueueName('write-jobs') });
  await queue.waitUntilReady();
  const worker = startTestWorker(queue, redisUrl);
  const target = { fail: 'failed', complete: 'completed', hold: 'active' } as const;
  return {
    queue,
    worker,
    bring: async (job, fate) => {
      worker.plan(job.jobId, fate);
      expect(await writeEventJobs(queue, [job])).toEqual(['added']);
      await worker.until(job.jobId, target[fate]);
    },
    close: async () => {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await connection.quit();
    },
  };
}

describe.each<WriteEventJobsOptions['transport']>(['inline', 'pipeline'])('writeEventJobs (%s transaction)', (transport) => {
  let h: Harness;
  beforeAll(async () => {
    h = await openHarness(inject('redisUrl'));
  });
  afterAll(async () => {
    await h?.close();
  });

  it('writes a batch mixing new, repeated, waiting, active, completed, delayed and failed ids in one transaction', async () => {
    const fresh = eventJob();
    const twice = eventJob();
    const waiting = eventJob();
    const active = eventJob();
    const completed = eventJob();
    const delayed = eventJob();
    const failed = eventJob();
    await h.bring(active, 'hold');
    await h.bring(completed, 'complete');
    await h.bring(failed, 'fail');
    await h.queue.add(delayed.name, delayed.data, { jobId: delayed.jobId, delay: 60_000 });
    await h.queue.pause(); // from here on, waiting jobs stay waiting
    expect(await writeEventJobs(h.queue, [waiting], { transport })).toEqual(['added']);
    const failedBefore = await h.queue.getJob(failed.jobId);
    expect(failedBefore?.attemptsMade).toBe(1);

    const batch = [fresh, twice, twice, waiting, active, completed, delayed, failed, failed];
    const outcomes = await writeEventJobs(h.queue, batch, { retryFailed: true, transport });

    expect(outcomes).toEqual(['added', 'added', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'duplicate', 'retried', 'duplicate']);
    const states = await Promise.all([fresh, twice, waiting, active, completed, delayed, failed].map((j) => h.queue.getJobState(j.jobId)));
    // The queue is paused, so "waiting" shows as waiting; the retried job is waiting again.
    expect(states).toEqual(['waiting', 'waiting', 'waiting', 'active', 'completed', 'delayed', 'waiting']);
    const retried = await h.queue.getJob(failed.jobId);
    expect(retried?.attemptsMade).toBe(0);
    expect(retried?.attemptsStarted).toBe(0);
    expect(retried?.failedReason).toBeUndefined();
    expect(retried?.data).toEqual(failed.data);
    expect((await h.queue.getJob(fresh.jobId))?.data).toEqual(fresh.data);
    // One job per id, none added twice.
    const counts = await h.queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    expect(counts).toEqual({ waiting: 4, active: 1, completed: 1, failed: 0, delayed: 1, prioritized: 0 });
    await h.queue.resume();
  });

  it('leaves a failed job failed, answering duplicate, when retryFailed is off', async () => {
    const failed = eventJob();
    await h.bring(failed, 'fail');
    expect(await writeEventJobs(h.queue, [failed], { transport })).toEqual(['duplicate']);
    expect(await h.queue.getJobState(failed.jobId)).toBe('failed');
  });
});

describe('writeEventJobs across ingress replicas (two connections)', () => {
  let h: Harness;
  let other: { connection: Redis; queue: EventQueue };
  beforeAll(async () => {
    h = await openHarness(inject('redisUrl'));
    const connection = producerConnection(inject('redisUrl'));
    other = { connection, queue: createEventQueue(connection, { name: h.queue.name }) };
    await other.queue.waitUntilReady();
  });
  afterAll(async () => {
    await other?.queue.close();
    await other?.connection.quit();
    await h?.close();
  });

  it('gives exactly one of two concurrent first deliveries "added"', async () => {
    for (let round = 0; round < 20; round += 1) {
      const job = eventJob();
      const answers = (await Promise.all([writeEventJobs(h.queue, [job]), writeEventJobs(other.queue, [job])])).flat();
      expect(answers.sort()).toEqual(['added', 'duplicate']);
    }
  });

  it('gives exactly one of two concurrent redeliveries of a failed event "retried", and the job fresh attempts once', async () => {
    const job = eventJob();
    await h.bring(job, 'fail');
    await h.queue.pause(); // so the retried job stays waiting while we look
    const answers = (
      await Promise.all([writeEventJobs(h.queue, [job], { retryFailed: true }), writeEventJobs(other.queue, [job], { retryFailed: true })])
    ).flat();
    expect(answers.sort()).toEqual(['duplicate', 'retried']);
    expect(await h.queue.getJobState(job.jobId)).toBe('waiting');
    await h.queue.resume();
    // The invalid event fails once more, and only once: nothing re-queues it by itself.
    await h.worker.until(job.jobId, 'failed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(h.worker.runs(job.jobId)).toBe(2);
    expect((await h.queue.getJob(job.jobId))?.attemptsMade).toBe(1);
  });
});

describe('writeEventJobs when Redis refuses (private redis-server)', () => {
  let redis: PrivateRedis;
  let connection: Redis;
  let queue: EventQueue;
  beforeAll(async () => {
    redis = await startPrivateRedis();
    connection = producerConnection(redis.url);
    queue = createEventQueue(connection, { name: uniqueQueueName('write-refused') });
    await queue.waitUntilReady();
  });
  afterEach(async () => {
    await connection.config('SET', 'maxmemory', '0');
  });
  afterAll(async () => {
    await queue?.close();
    connection?.disconnect();
    await redis?.dispose();
  });

  it('rejects the whole batch and adds none of it when Redis is out of memory (noeviction), then writes again', async () => {
    // The first transaction on this connection: its scripts' bodies ride in it, and are refused with it.
    await connection.config('SET', 'maxmemory', '1');
    const jobs = [eventJob(), eventJob(), eventJob()];
    await expect(writeEventJobs(queue, jobs, { retryFailed: true })).rejects.toThrow(/OOM|EXECABORT/);
    await connection.config('SET', 'maxmemory', '0');
    for (const job of jobs) expect(await queue.getJob(job.jobId)).toBeUndefined();
    expect(await writeEventJobs(queue, jobs, { retryFailed: true })).toEqual(['added', 'added', 'added']);
  });

  it('after SCRIPT FLUSH, fails one batch (adding nothing), then writes again on the same connection', async () => {
    expect(await writeEventJobs(queue, [eventJob()])).toEqual(['added']);
    await connection.script('FLUSH');
    const refused = eventJob();
    await expect(writeEventJobs(queue, [refused])).rejects.toThrow(/NOSCRIPT/);
    expect(await queue.getJob(refused.jobId)).toBeUndefined();
    const job = eventJob();
    expect(await writeEventJobs(queue, [job])).toEqual(['added']);
    expect((await queue.getJob(job.jobId))?.data).toEqual(job.data);
  });
});
