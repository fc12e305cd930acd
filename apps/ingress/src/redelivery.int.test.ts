import { minimiseEvent } from '@billing/billing/job-payload';
import { testSigner } from '@billing/testing/job-signing';
import { startTestWorker, type TestWorker } from '@billing/testing/scripted-worker';
import { describeEachBackend } from '@billing/testing/test-queue';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { invoiceEvent, startTestIngress, type TestIngress } from '../test-support/test-ingress';

async function retriedCount(ingress: TestIngress): Promise<number> {
  const line = (await ingress.registry.metrics()).split('\n').find((l) => l.startsWith('billing_ingress_requests_total{outcome="retried"'));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describeEachBackend('Stripe redelivers an event whose job failed (retry, or "Resend" in the dashboard)', (backend) => {
  let ingress: TestIngress;
  let worker: TestWorker;

  beforeAll(async () => {
    ingress = await startTestIngress('ingress-redelivery', { queue: backend });
    worker = startTestWorker(ingress.queue, ingress.config);
  });
  afterAll(async () => {
    await worker?.close();
    await ingress?.close();
  });

  it('moves the failed job back to waiting with fresh attempts, answers retried, counts it, and the event is applied once the cause is gone', async () => {
    const { event, body } = invoiceEvent();
    worker.plan(event.id, 'fail', 'complete');
    expect((await ingress.postSigned(body)).json()).toEqual({ received: true });
    await worker.until(event.id, 'failed');
    const failed = await ingress.queue.getJob(event.id);
    expect([failed?.attemptsMade, failed?.attemptsStarted]).toEqual([1, 1]);
    const before = await retriedCount(ingress);

    const redelivery = await ingress.postSigned(body); // signed again, as Stripe does, with a new timestamp

    expect(redelivery.statusCode).toBe(200);
    expect(redelivery.body).toBe('{"received":true,"retried":true}');
    expect(await retriedCount(ingress)).toBe(before + 1);
    await worker.until(event.id, 'completed');
    const applied = await ingress.queue.getJob(event.id);
    expect(worker.runs(event.id)).toBe(2);
    // Counted from the reset: the one run after it, not the failed one before.
    expect([applied?.attemptsMade, applied?.attemptsStarted, applied?.returnvalue]).toEqual([1, 1, { outcome: 'applied' }]);
  });

  it('gives a job the worker refused for its data (queued unsigned before signed jobs, or under a retired key) the newly verified, newly signed event', async () => {
    const { event, body } = invoiceEvent();
    worker.plan(event.id, 'fail', 'complete');
    // What an ingress of before signed jobs queued: the event alone, which the worker now refuses for good.
    await ingress.queue.add(event.type, minimiseEvent(event), { jobId: event.id });
    await worker.until(event.id, 'failed');
    expect(testSigner.verify((await ingress.queue.getJob(event.id))?.data)).toMatchObject({ ok: false });

    expect((await ingress.postSigned(body)).json()).toEqual({ received: true, retried: true });

    await worker.until(event.id, 'completed');
    const job = await ingress.queue.getJob(event.id);
    expect(testSigner.verify(job?.data)).toEqual({ ok: true, event: minimiseEvent(event) });
  });

  it('lets an invalid event fail once more per redelivery, never in a loop', async () => {
    const { event, body } = invoiceEvent();
    worker.plan(event.id, 'fail');
    await ingress.postSigned(body);
    await worker.until(event.id, 'failed');

    expect((await ingress.postSigned(body)).json()).toEqual({ received: true, retried: true });
    await worker.until(event.id, 'failed');
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing re-queues it by itself
    expect(worker.runs(event.id)).toBe(2);
    expect(await ingress.queue.getJobState(event.id)).toBe('failed');
    expect((await ingress.queue.getJob(event.id))?.attemptsMade).toBe(1);

    expect((await ingress.postSigned(body)).json()).toEqual({ received: true, retried: true });
    await worker.until(event.id, 'failed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(worker.runs(event.id)).toBe(3);
  });

  it.each([
    ['completed', 'complete'],
    ['active', 'hold'],
  ] as const)('answers duplicate to a redelivery of an event whose job is %s, and leaves the job as it is', async (state, fate) => {
    const { event, body } = invoiceEvent();
    worker.plan(event.id, fate);
    await ingress.postSigned(body);
    await worker.until(event.id, state);
    expect((await ingress.postSigned(body)).json()).toEqual({ received: true, duplicate: true });
    expect(await ingress.queue.getJobState(event.id)).toBe(state);
    expect(worker.runs(event.id)).toBe(1);
  });

  it('answers duplicate to a redelivery of an event whose job is still waiting', async () => {
    const { event, body } = invoiceEvent();
    await ingress.queue.pause();
    await ingress.postSigned(body);
    expect((await ingress.postSigned(body)).json()).toEqual({ received: true, duplicate: true });
    expect(await ingress.queue.getJobState(event.id)).toBe('waiting');
    await ingress.queue.resume();
  });
});
