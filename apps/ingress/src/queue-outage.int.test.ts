import type { QueueConfig } from '@billing/queue';
import { createTestDatabase, type TestDatabase } from '@billing/testing/database';
import { redisServerProblem, startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceEvent, startTestIngress, type TestIngress } from '../test-support/test-ingress';
import { signedJob } from '@billing/testing/job-signing';
import { startTcpProxy, type TcpProxy } from '@billing/testing/tcp-proxy';
import { describeEachBackend, testQueueConfig, testRedisUrl } from '@billing/testing/test-queue';
import { waitFor } from '@billing/testing/wait-for';

const redisQueue = (url: string): QueueConfig => ({ backend: 'redis', redis: { url }, prefix: 'bull' });
const noRedisServer = redisServerProblem();
if (noRedisServer) console.log(`skipped (private Redis outages): ${noRedisServer}`);

const BOUND_MS = 2_000;
/** Generous slack over the bound for a loaded CI machine; a hang would take far longer. */
const SLACK_MS = 1_500;

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

describe.skipIf(noRedisServer)('Redis stops and comes back (private redis-server)', () => {
  let redis: PrivateRedis;
  let ingress: TestIngress;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    ingress = await startTestIngress('ingress-outage', { queue: redisQueue(redis.url), enqueueTimeoutMs: BOUND_MS });
  });

  afterAll(async () => {
    await ingress?.close();
    await redis?.dispose();
  });

  it('answers 503 within the bound while Redis is down, then 200 again once it is back, without a rebuild', async () => {
    const first = invoiceEvent();
    expect((await ingress.postSigned(first.body)).statusCode).toBe(200);

    await redis.stop();
    const down = invoiceEvent();
    const { value: answers, ms } = await timed(() => Promise.all(Array.from({ length: 5 }, () => ingress.postSigned(down.body))));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(5).fill(503));
    expect(answers[0]?.json()).toEqual({ error: 'queue_unavailable' });
    expect(ms).toBeLessThan(BOUND_MS + SLACK_MS);
    const ready = await timed(() => ingress.app.inject({ method: 'GET', url: '/readyz' }));
    expect(ready.value.statusCode).toBe(503);
    expect(ready.ms).toBeLessThan(BOUND_MS + SLACK_MS);
    expect((await ingress.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await redis.start();
    await waitFor(async () => (await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 'ready again', 15_000);
    // Stripe retries the event it got a 503 for: now it is queued.
    const retried = await ingress.postSigned(down.body);
    expect(retried.statusCode).toBe(200);
    expect(retried.json()).toEqual({ received: true });
    expect((await ingress.queue.getJob(down.event.id))?.data).toEqual(signedJob(down.event));
  });
});

describe.skipIf(noRedisServer)('Redis killed while batches are in flight (private redis-server, AOF fsync always)', () => {
  let redis: PrivateRedis;
  let ingress: TestIngress;

  beforeAll(async () => {
    redis = await startPrivateRedis({ appendOnly: true });
    ingress = await startTestIngress('ingress-killed', { queue: redisQueue(redis.url), enqueueTimeoutMs: BOUND_MS });
  });

  afterAll(async () => {
    await ingress?.close();
    await redis?.dispose();
  });

  it('answers 200 only for events that are in Redis after it restarts, 503 for the rest', async () => {
    const answers: Array<{ id: string; status: number }> = [];
    let killed = false;
    const sender = async () => {
      while (answers.length < 600) {
        const { event, body } = invoiceEvent();
        const res = await ingress.postSigned(body);
        answers.push({ id: event.id, status: res.statusCode });
        if (!killed && answers.length >= 200) {
          killed = true;
          void redis.stop(true); // SIGKILL, with batches of the other senders in flight
        }
      }
    };
    await Promise.all(Array.from({ length: 25 }, sender));

    await redis.start();
    await waitFor(async () => (await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 'ready again', 15_000);
    // /readyz has a connection of its own: the queue's may reconnect a moment later (no offline queue).
    const queueAnswers = () =>
      ingress.queue.getJobCounts('waiting').then(
        () => true,
        () => false,
      );
    await waitFor(queueAnswers, 'the queue connection back', 15_000);
    const acknowledged = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status !== 200);
    expect(acknowledged.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((a) => a.status))).toEqual(new Set([503]));
    const missing = [];
    for (const { id } of acknowledged) if ((await ingress.queue.getJob(id)) === undefined) missing.push(id);
    expect(missing).toEqual([]);
  });
});

describeEachBackend('the queue store stops acknowledging (connection open, no answers)', (backend) => {
  let proxy: TcpProxy;
  let ingress: TestIngress;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    let config: QueueConfig;
    if (backend === 'redis') {
      proxy = await startTcpProxy({ host: '127.0.0.1', port: Number(new URL(testRedisUrl()!).port || 6379) });
      config = redisQueue(`redis://127.0.0.1:${proxy.port}`);
    } else {
      database = await createTestDatabase('ingress_frozen');
      const direct = await testQueueConfig('postgres', database.url);
      const url = new URL(database.url);
      proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
      url.port = String(proxy.port);
      config = { ...direct, url: url.toString() } as QueueConfig;
    }
    ingress = await startTestIngress('ingress-frozen', { queue: config, enqueueTimeoutMs: BOUND_MS });
  });

  afterAll(async () => {
    proxy?.thaw();
    await ingress?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('answers 503 to every request of a batch in flight when the store stops answering', async () => {
    const deliveries = Array.from({ length: 10 }, () => invoiceEvent());
    proxy.freeze();
    const answers = await Promise.all(deliveries.map((d) => ingress.postSigned(d.body)));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(10).fill(503));
    proxy.thaw();
    await waitFor(async () => (await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 'ready again', 15_000);
    // The batch may have landed once the store answered again: retries find it, each job once.
    const retries = await Promise.all(deliveries.map((d) => ingress.postSigned(d.body)));
    expect(retries.map((a) => a.statusCode)).toEqual(Array(10).fill(200));
    for (const d of deliveries) expect((await ingress.queue.getJob(d.event.id))?.data).toEqual(signedJob(d.event));
    await ingress.queue.obliterate({ force: true });
  });

  it('answers 503 after about the bound instead of hanging, and a retry after recovery finds the one job', async () => {
    const { event, body } = invoiceEvent();
    proxy.freeze();
    const { value: res, ms } = await timed(() => ingress.postSigned(body));
    expect(res.statusCode).toBe(503);
    expect(ms).toBeGreaterThanOrEqual(BOUND_MS - 100);
    expect(ms).toBeLessThan(BOUND_MS + SLACK_MS);

    // The add that timed out may still land once the store answers again; the retry then finds it.
    proxy.thaw();
    await waitFor(async () => (await ingress.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200, 'ready again', 15_000);
    const retried = await ingress.postSigned(body);
    expect(retried.statusCode).toBe(200);
    expect((await ingress.queue.getJob(event.id))?.data).toEqual(signedJob(event));
    const counts = await ingress.queue.getJobCounts();
    expect(Object.values(counts).reduce((sum, n) => sum + n, 0)).toBe(1);
  });
});
