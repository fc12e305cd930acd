import { isStripeEventId, jobIdFor } from '@billing/queue';
import { event, invoiceObject, stripeId } from '@billing/stripe-simulator/events';
import { thinEvent, thinPing, thinSignatureHeader } from '@billing/stripe-simulator/thin-events';
import { signedJob } from '@billing/testing/job-signing';
import { thinJobPayload } from '@billing/billing/job-payload';
import { testSigner } from '@billing/testing/job-signing';
import { describeEachBackend } from '@billing/testing/test-queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECRETS, startTestIngress, type TestIngress } from '../test-support/test-ingress';
import { THIN_WEBHOOK_PATH } from './webhook-route';

const THIN_SECRETS = ['whsec_thin_current_0123456789', 'whsec_thin_rotated_9876543210'] as const;

const subscriptionUpdated = (snapshotEvent?: string) =>
  thinEvent({ type: 'v1.customer.subscription.updated', related: { id: stripeId('sub'), type: 'subscription' }, snapshotEvent });

describeEachBackend('the thin events route', (backend) => {
  let ingress: TestIngress;
  let without: TestIngress;

  beforeAll(async () => {
    [ingress, without] = await Promise.all([
      startTestIngress('ingress-thin', { queue: backend, thinSecrets: THIN_SECRETS }),
      startTestIngress('ingress-no-thin', { queue: backend }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([ingress?.close(), without?.close()]);
  });

  const postThin = (target: TestIngress, body: string, signature?: string) =>
    target.app.inject({
      method: 'POST',
      url: THIN_WEBHOOK_PATH,
      payload: body,
      headers: { 'content-type': 'application/json', ...(signature !== undefined && { 'stripe-signature': signature }) },
    });
  const signed = (body: string, secret: string = THIN_SECRETS[0], timestamp?: number) => thinSignatureHeader(body, secret, timestamp);
  const jobCount = async () => Object.values(await ingress.queue.getJobCounts()).reduce((sum, n) => sum + n, 0);

  it('queues a verified thin event under its v2 id, named by its type, as signed job data', async () => {
    const thin = subscriptionUpdated('evt_1SnapshotTwin');
    const body = JSON.stringify(thin);
    const res = await postThin(ingress, body, signed(body));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: true });
    const job = await ingress.queue.getJob(thin.id);
    expect(job?.name).toBe('v1.customer.subscription.updated');
    expect(job?.data).toEqual(thinJobPayload(testSigner, thin));
    expect(job?.data).toMatchObject({ related_object: thin.related_object, snapshot_event: 'evt_1SnapshotTwin' });
    expect(job?.data).not.toHaveProperty('reason');
  });

  it.each([
    ['v1.customer.subscription.created', 'subscription', 'sub'],
    ['v1.customer.subscription.deleted', 'subscription', 'sub'],
    ['v1.customer.subscription.past_due', 'subscription', 'sub'],
    ['v1.invoice.paid', 'invoice', 'in'],
    ['v1.invoice.payment_succeeded', 'invoice', 'in'],
    ['v1.invoice.payment_failed', 'invoice', 'in'],
    ['v1.checkout.session.completed', 'checkout.session', 'cs'],
  ])('queues %s, signed by the SDK’s test header, under its id', async (type, kind, prefix) => {
    const thin = thinEvent({ type, related: { id: stripeId(prefix), type: kind }, snapshotEvent: stripeId('evt') });
    const body = JSON.stringify(thin);
    expect((await postThin(ingress, body, signed(body, THIN_SECRETS[1]))).json()).toEqual({ received: true });
    const job = await ingress.queue.getJob(thin.id);
    expect(job?.name).toBe(type);
    expect(job?.data).toEqual(thinJobPayload(testSigner, thin));
  });

  it('answers duplicates and the rotated secret as the snapshot route does', async () => {
    const thin = subscriptionUpdated();
    const body = JSON.stringify(thin);
    expect((await postThin(ingress, body, signed(body))).json()).toEqual({ received: true });
    const again = await postThin(ingress, body, signed(body, THIN_SECRETS[1]));
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ received: true, duplicate: true });
  });

  it('answers a destination ping 200 and queues nothing', async () => {
    const before = await jobCount();
    const ping = thinPing();
    const body = JSON.stringify(ping);
    const res = await postThin(ingress, body, signed(body));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ received: true });
    expect(await ingress.queue.getJob(ping.id)).toBeUndefined();
    expect(await jobCount()).toBe(before);
  });

  it.each([
    ['no header', undefined],
    ['a forged signature (another secret)', (body: string) => signed(body, 'whsec_forged_000000000000')],
    ['the snapshot endpoint’s secret', (body: string) => signed(body, SECRETS[0])],
    ['a stale timestamp (an hour old)', (body: string) => signed(body, THIN_SECRETS[0], Math.floor(Date.now() / 1000) - 3_600)],
    ['t=NaN', (body: string) => signed(body).replace(/t=\d+/, 't=NaN')],
  ])('refuses %s with 400 invalid_signature and queues nothing', async (_label, sign) => {
    const before = await jobCount();
    const thin = subscriptionUpdated();
    const body = JSON.stringify(thin);
    const res = await postThin(ingress, body, sign?.(body));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_signature' });
    expect(await ingress.queue.getJob(thin.id)).toBeUndefined();
    expect(await jobCount()).toBe(before);
  });

  it.each([
    ['a snapshot event', JSON.stringify(event('invoice.paid', invoiceObject({ subscription: 'sub_1', customer: 'cus_1' })))],
    ['an id with a colon', JSON.stringify({ ...subscriptionUpdated(), id: 'evt_test:1' })],
    ['a created that is not a time', JSON.stringify({ ...subscriptionUpdated(), created: 1700000000 })],
    ['not JSON', '{"id":'],
  ])('refuses %s, correctly signed, with 400 invalid_payload', async (_label, body) => {
    const res = await postThin(ingress, body, signed(body));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: 'invalid_payload' });
  });

  it('does not exist without its secret (404), and the snapshot route does not take thin events', async () => {
    const thin = subscriptionUpdated();
    const body = JSON.stringify(thin);
    expect((await postThin(without, body, signed(body))).statusCode).toBe(404);
    const onSnapshotRoute = await ingress.post(body, { 'stripe-signature': signed(body, SECRETS[0]) });
    expect(onSnapshotRoute.statusCode).toBe(400);
    expect(await ingress.queue.getJob(thin.id)).toBeUndefined();
  });

  it('still queues snapshot events on the snapshot route next to it', async () => {
    const paid = event('invoice.paid', invoiceObject({ subscription: stripeId('sub'), customer: stripeId('cus') }));
    const body = JSON.stringify(paid);
    expect((await ingress.postSigned(body)).statusCode).toBe(200);
    expect((await ingress.queue.getJob(paid.id))?.data).toEqual(signedJob(paid));
  });
});

describe('event ids as job ids', () => {
  it.each(['evt_1QxYz', 'evt_123', 'evt_test_65R2GpwDsnmpzihMjdT16R2GDhI4SQdXJGRbvn7JA8mPEm', 'evt_test_ping'])('accepts %s', (id) => {
    expect(isStripeEventId(id)).toBe(true);
    expect(jobIdFor({ id })).toBe(id);
  });
  it.each(['evt_', 'evt__1', 'evt_1_', 'evt_a:b', 'evt_a/b', 'evt_a b', 'evt_a-b', 'ev_1', '1', 'evt_a\nb'])('refuses %j', (id) => {
    expect(isStripeEventId(id)).toBe(false);
    expect(() => jobIdFor({ id })).toThrow(TypeError);
  });
});
