import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { invoiceEvent, startTestIngress, type TestIngress } from '../test-support/test-ingress';
import { startTestWorker, type TestWorker } from '@billing/testing/scripted-worker';
import { signedJob } from '@billing/testing/job-signing';
import { describeEachBackend } from '@billing/testing/test-queue';

/** One Prometheus sample of the ingress registry (0 when absent). */
async function sample(ingress: TestIngress, pattern: RegExp): Promise<number> {
  const line = (await ingress.registry.metrics()).split('\n').find((l) => pattern.test(l));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}
const batches = (ingress: TestIngress) => sample(ingress, /^billing_ingress_enqueue_batch_size_count/);
const outcome = (ingress: TestIngress, name: string) => sample(ingress, new RegExp(`^billing_ingress_requests_total\\{outcome="${name}"`));

describeEachBackend('coalesced enqueue (app.inject)', (backend) => {
  let ingress: TestIngress;
  let worker: TestWorker;
  /** Runs after the store wrote a batch and before its write resolves, as a replica's WAIT does on Redis; each test sets it. */
  let hook: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ingress = await startTestIngress('ingress-batching', {
      queue: backend,
      wrapStore: (store) => ({
        ...store,
        writeJobs: async (queue, jobs, options) => {
          const outcomes = await store.writeJobs(queue, jobs, options);
          await (hook?.() ?? Promise.resolve());
          return outcomes;
        },
      }),
    });
    worker = startTestWorker(ingress.queue, ingress.config);
  });
  afterEach(() => {
    hook = undefined;
  });
  afterAll(async () => {
    await worker?.close();
    await ingress?.close();
  });

  it('writes 40 concurrent deliveries in one transaction: one job each, each answered once the store has it', async () => {
    const deliveries = Array.from({ length: 40 }, () => invoiceEvent());
    const before = await batches(ingress);
    await ingress.queue.pause();
    const answers = await Promise.all(deliveries.map((d) => ingress.postSigned(d.body)));
    expect(answers.map((a) => a.body)).toEqual(Array(40).fill('{"received":true}'));
    expect(await batches(ingress)).toBe(before + 1);
    for (const { event } of deliveries) {
      const job = await ingress.queue.getJob(event.id);
      expect(job?.data).toEqual(signedJob(event));
      expect(job?.name).toBe(event.type);
    }
    await ingress.queue.resume();
  });

  it('answers one batch mixing new events, a duplicate, an event sent twice and a failed event redelivered', async () => {
    const queued = invoiceEvent();
    const failed = invoiceEvent();
    const fresh = invoiceEvent();
    const twice = invoiceEvent();
    worker.plan(failed.event.id, 'fail');
    expect((await ingress.postSigned(failed.body)).json()).toEqual({ received: true });
    await worker.until(failed.event.id, 'failed');
    await ingress.queue.pause();
    expect((await ingress.postSigned(queued.body)).json()).toEqual({ received: true });
    const before = {
      batches: await batches(ingress),
      retried: await outcome(ingress, 'retried'),
      duplicate: await outcome(ingress, 'duplicate'),
    };

    const answers = await Promise.all([fresh, queued, twice, failed, twice].map((d) => ingress.postSigned(d.body)));

    expect(await batches(ingress)).toBe(before.batches + 1);
    expect(answers.map((a) => [a.statusCode, a.json()])).toEqual([
      [200, { received: true }],
      [200, { received: true, duplicate: true }],
      [200, { received: true }],
      [200, { received: true, retried: true }],
      [200, { received: true, duplicate: true }],
    ]);
    expect(await outcome(ingress, 'retried')).toBe(before.retried + 1);
    expect(await outcome(ingress, 'duplicate')).toBe(before.duplicate + 2);
    expect(await ingress.queue.getJobState(failed.event.id)).toBe('waiting');
    expect((await ingress.queue.getJob(failed.event.id))?.attemptsMade).toBe(0);
    for (const d of [fresh, queued, twice]) expect(await ingress.queue.getJobState(d.event.id)).toBe('waiting');
    await ingress.queue.resume();
  });

  it('awaits the durable acknowledgement once per batch, after its jobs are in the store and before any request is answered', async () => {
    const deliveries = Array.from({ length: 10 }, () => invoiceEvent());
    const calls: Array<{ inStore: number; answered: number }> = [];
    let answered = 0;
    let releaseHook: () => void = () => {};
    const hookDone = new Promise<void>((resolve) => (releaseHook = resolve));
    let hookCalled: () => void = () => {};
    const called = new Promise<void>((resolve) => (hookCalled = resolve));
    hook = async () => {
      const found = await Promise.all(deliveries.map((d) => ingress.queue.getJob(d.event.id)));
      calls.push({ inStore: found.filter(Boolean).length, answered });
      hookCalled();
      await hookDone;
    };
    const answers = Promise.all(deliveries.map((d) => ingress.postSigned(d.body).then((a) => ((answered += 1), a))));
    await called;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(answered).toBe(0); // the hook holds every answer of its batch
    releaseHook();
    expect((await answers).map((a) => a.statusCode)).toEqual(Array(10).fill(200));
    expect(calls).toEqual([{ inStore: 10, answered: 0 }]);
  });

  it('answers 503 to every request of a batch whose acknowledgement fails (e.g. no replica acknowledged)', async () => {
    const deliveries = Array.from({ length: 8 }, () => invoiceEvent());
    const before = await outcome(ingress, 'queue_unavailable');
    hook = async () => {
      throw new Error('WAIT: 0 of 1 replicas acknowledged');
    };
    const answers = await Promise.all(deliveries.map((d) => ingress.postSigned(d.body)));
    expect(answers.map((a) => [a.statusCode, a.body])).toEqual(Array(8).fill([503, '{"error":"queue_unavailable"}']));
    expect(await outcome(ingress, 'queue_unavailable')).toBe(before + 8);
    // Stripe retries each: the jobs are there, so the retry is answered duplicate (never lost).
    hook = undefined;
    const retries = await Promise.all(deliveries.map((d) => ingress.postSigned(d.body)));
    expect(retries.map((a) => a.json())).toEqual(Array(8).fill({ received: true, duplicate: true }));
  });
});
