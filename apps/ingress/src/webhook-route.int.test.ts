import { hmac, signatureHeader } from '@billing/stripe-simulator/events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceEvent, SECRETS, startTestIngress, type TestIngress } from '../test-support/test-ingress';
import { signedJob } from '@billing/testing/job-signing';
import { describeEachBackend } from '@billing/testing/test-queue';

describeEachBackend('the webhook route (app.inject)', (backend) => {
  let ingress: TestIngress;

  beforeAll(async () => {
    ingress = await startTestIngress('ingress-webhook', { queue: backend });
  });

  afterAll(async () => {
    await ingress?.close();
  });

  const jobCount = async () => {
    const counts = await ingress.queue.getJobCounts();
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  };

  describe('POST /checkout/webhooks/stripe', () => {
    it('answers 200 {"received":true} and queues the verified event under its id, named by its type', async () => {
      const { event, body } = invoiceEvent();
      const res = await ingress.postSigned(body);
      expect(res.statusCode).toBe(200);
      expect(res.body).toBe('{"received":true}');
      const job = await ingress.queue.getJob(event.id);
      expect(job?.name).toBe('invoice.paid');
      expect(job?.data).toEqual(signedJob(event));
      expect(await job?.getState()).toBe('waiting');
    });

    it('answers a redelivery with {"received":true,"duplicate":true} and keeps the one job', async () => {
      const { event, body } = invoiceEvent();
      expect((await ingress.postSigned(body)).json()).toEqual({ received: true });
      const again = await ingress.postSigned(body, SECRETS[1]);
      expect(again.statusCode).toBe(200);
      expect(again.body).toBe('{"received":true,"duplicate":true}');
      expect((await ingress.queue.getJob(event.id))?.data).toEqual(signedJob(event));
    });

    it('turns the same event posted 10 times at once into exactly one job', async () => {
      const before = await jobCount();
      const { event, body } = invoiceEvent();
      const answers = await Promise.all(Array.from({ length: 10 }, () => ingress.postSigned(body)));
      expect(answers.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
      expect(answers.every((r) => r.json().received === true)).toBe(true);
      expect(await jobCount()).toBe(before + 1);
      expect((await ingress.queue.getJob(event.id))?.data).toEqual(signedJob(event));
      expect((await ingress.postSigned(body)).json()).toEqual({ received: true, duplicate: true });
    });

    it('accepts the rotated (second) secret', async () => {
      const { event, body } = invoiceEvent();
      expect((await ingress.postSigned(body, SECRETS[1])).statusCode).toBe(200);
      expect(await ingress.queue.getJob(event.id)).toBeDefined();
    });

    it('accepts a header carrying several v1 signatures where only one is right', async () => {
      const { event, body } = invoiceEvent();
      const t = Math.floor(Date.now() / 1000);
      const header = `t=${t},v1=${hmac(body, 'whsec_wrong', t)},v1=${hmac(body, SECRETS[1], t)},v1=${'a'.repeat(64)}`;
      expect((await ingress.post(body, { 'stripe-signature': header })).statusCode).toBe(200);
      expect(await ingress.queue.getJob(event.id)).toBeDefined();
    });

    it.each(['application/json; charset=utf-8', 'Application/JSON;charset=UTF-8', 'application/json ; charset="utf-8"'])(
      'accepts content type %s',
      async (contentType) => {
        const { event, body } = invoiceEvent();
        const res = await ingress.post(body, { 'content-type': contentType, 'stripe-signature': signatureHeader(body, SECRETS[0]) });
        expect(res.statusCode).toBe(200);
        expect(await ingress.queue.getJob(event.id)).toBeDefined();
      },
    );

    const t = () => Math.floor(Date.now() / 1000);
    it.each([
      ['no signature header', (body: string) => ({ 'content-type': 'application/json', body })],
      ['only a v0 signature', (body: string) => ({ 'stripe-signature': `t=${t()},v0=${hmac(body, SECRETS[0], t())}`, body })],
      [
        'several v1 signatures, none right',
        (body: string) => ({ 'stripe-signature': `t=${t()},v1=${hmac(body, 'whsec_x', t())},v1=${'0'.repeat(64)}`, body }),
      ],
      ['a timestamp 10 minutes old', (body: string) => ({ 'stripe-signature': signatureHeader(body, SECRETS[0], t() - 600), body })],
      [
        'a body changed after signing',
        (body: string) => ({
          'stripe-signature': signatureHeader(body, SECRETS[0]),
          body: body.replace('"livemode":false', '"livemode":true'),
        }),
      ],
      ['a secret we do not have', (body: string) => ({ 'stripe-signature': signatureHeader(body, 'whsec_attacker'), body })],
      ['a text/plain body', (body: string) => ({ 'content-type': 'text/plain', 'stripe-signature': 'bogus', body })],
      [
        'a form body',
        (body: string) => ({ 'content-type': 'application/x-www-form-urlencoded', 'stripe-signature': 'bogus', body: `a=${body}` }),
      ],
      [
        'a content type that is not a media type',
        (body: string) => ({ 'content-type': 'definitely not a type', 'stripe-signature': 'bogus', body }),
      ],
      ['an empty content type and no body', () => ({ 'content-type': '', 'stripe-signature': 'bogus', body: '' })],
    ])('answers 400 {"error":"invalid_signature"} to %s and queues nothing', async (_name, make) => {
      const { event, body: original } = invoiceEvent();
      const { body, ...headers } = make(original) as Record<string, string> & { body: string };
      const before = await jobCount();
      const res = await ingress.post(body, headers);
      expect(res.statusCode).toBe(400);
      expect(res.body).toBe('{"error":"invalid_signature"}');
      expect(await ingress.queue.getJob(event.id)).toBeUndefined();
      expect(await jobCount()).toBe(before);
    });

    it('answers 400 (not 415) to a body without any content type', async () => {
      const { body } = invoiceEvent();
      const res = await ingress.app.inject({
        method: 'POST',
        url: '/checkout/webhooks/stripe',
        payload: body,
        headers: { 'stripe-signature': 'bogus', 'content-type': undefined },
      });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'invalid_signature' });
    });

    it('reaches verification for a body without any content type (signed: 200)', async () => {
      const { event, body } = invoiceEvent();
      const res = await ingress.app.inject({
        method: 'POST',
        url: '/checkout/webhooks/stripe',
        payload: Buffer.from(body),
        headers: { 'stripe-signature': signatureHeader(body, SECRETS[0]), 'content-type': undefined },
      });
      expect(res.statusCode).toBe(200);
      expect(await ingress.queue.getJob(event.id)).toBeDefined();
    });

    it.each([
      ['text that is not JSON', 'not json', 'body is not valid JSON'],
      ['an object that is not an event', JSON.stringify({ id: 'evt_1abc', object: 'invoice' }), 'object is not "event"'],
      ['an event with a numeric id', JSON.stringify({ ...invoiceEvent().event, id: '12345' }), 'id is not a Stripe event id (evt_…)'],
    ])('answers 400 invalid_payload with a reason to a signed %s, queueing nothing', async (_name, body, reason) => {
      const before = await jobCount();
      const res = await ingress.postSigned(body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'invalid_payload', reason });
      expect(await jobCount()).toBe(before);
    });

    it('answers 413 to a body over 1 MiB, signed or not, and queues nothing', async () => {
      const { event } = invoiceEvent();
      const body = JSON.stringify({ ...event, data: { object: { padding: 'x'.repeat(1024 * 1024) } } });
      const res = await ingress.postSigned(body);
      expect(res.statusCode).toBe(413);
      expect(res.json()).toEqual({ error: 'payload_too_large' });
      expect(await ingress.queue.getJob(event.id)).toBeUndefined();
    });

    it('accepts a body just under 1 MiB', async () => {
      const { event } = invoiceEvent();
      const base = JSON.stringify({ ...event, data: { object: { padding: '' } } });
      const body = base.replace('"padding":""', `"padding":"${'x'.repeat(1024 * 1024 - base.length)}"`);
      expect(Buffer.byteLength(body)).toBe(1024 * 1024);
      expect((await ingress.postSigned(body)).statusCode).toBe(200);
      expect(await ingress.queue.getJob(event.id)).toBeDefined();
    });
  });

  describe('operations routes', () => {
    it('GET /healthz answers 200', async () => {
      const res = await ingress.app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(200);
    });

    it('GET /readyz answers 200 while Redis answers', async () => {
      const res = await ingress.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(200);
    });

    it('answers routes it does not have with 404 {"error":"not_found"}', async () => {
      const res = await ingress.app.inject({
        method: 'POST',
        url: '/healthz',
        payload: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toEqual({ error: 'not_found' });
    });

    it('does not serve /metrics on the webhook port (it has an internal port of its own)', async () => {
      const res = await ingress.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(404);
    });

    it('registers outcomes, signature failures, the matching secret, enqueue latency, batch sizes and process metrics', async () => {
      const text = await ingress.registry.metrics();
      expect(text).toMatch(/billing_ingress_requests_total\{outcome="received"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_requests_total\{outcome="duplicate"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_requests_total\{outcome="invalid_signature"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_requests_total\{outcome="invalid_payload"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_requests_total\{outcome="payload_too_large"[^}]*\} 1/);
      expect(text).toMatch(/billing_ingress_signature_failures_total\{reason="stale_timestamp"[^}]*\} 1/);
      expect(text).toMatch(/billing_ingress_signature_failures_total\{reason="missing_header"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_secret_matches_total\{secret_index="1"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_enqueue_duration_seconds_count\{[^}]*result="added"[^}]*\} [1-9]/);
      expect(text).toMatch(/billing_ingress_enqueue_batch_size_count\{[^}]*\} [1-9]/);
      expect(text).toContain('process_cpu_user_seconds_total');
    });
  });
});
