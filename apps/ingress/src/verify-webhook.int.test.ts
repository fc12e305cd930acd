import { hmac, signatureHeader } from '@billing/stripe-simulator/events';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { invoiceEvent, SECRETS } from '../test-support/test-ingress';
import { verifyWebhook } from './verify-webhook';

const stripe = new Stripe('sk_test_unused', { telemetry: false });
const { event, body } = invoiceEvent();
const now = Math.floor(Date.now() / 1000);
const goodSig = (payload = body, secret: string = SECRETS[0], t = now) => hmac(payload, secret, t);
/** `payload` null: the request had no body at all. */
const verify = (header: string | undefined, payload: string | null = body) =>
  verifyWebhook(stripe, payload === null ? undefined : Buffer.from(payload), header, SECRETS);

describe('verifyWebhook', () => {
  it('accepts a body signed with the current secret and returns the parsed event', () => {
    expect(verify(signatureHeader(body, SECRETS[0]))).toEqual({ ok: true, event, secretIndex: 0 });
  });

  it('accepts the rotated (second) secret and says which one matched', () => {
    expect(verify(signatureHeader(body, SECRETS[1]))).toMatchObject({ ok: true, secretIndex: 1 });
  });

  it.each([
    [
      'several v1 signatures where only the last is right',
      `t=${now},v1=${'0'.repeat(64)},v1=${goodSig(body, 'whsec_other')},v1=${goodSig()}`,
    ],
    ['several v1 signatures where only the first is right', `t=${now},v1=${goodSig()},v1=${'f'.repeat(64)}`],
    ['a v0 signature next to the v1', `t=${now},v0=${goodSig()},v1=${goodSig()}`],
    ['a timestamp in the future (only age is checked)', `t=${now + 120},v1=${goodSig(body, SECRETS[0], now + 120)}`],
  ])('accepts %s', (_name, header) => {
    expect(verify(header)).toMatchObject({ ok: true, secretIndex: 0 });
  });

  it.each([
    ['no header', undefined, body, 'missing_header'],
    ['an empty header', '', body, 'missing_header'],
    ['a header with only v0 signatures', `t=${now},v0=${goodSig()}`, body, 'malformed_header'],
    ['a header without a timestamp', `v1=${goodSig()}`, body, 'malformed_header'],
    ['garbage', 'not a signature', body, 'malformed_header'],
    [
      't=NaN with an HMAC over "NaN.<body>" (would skip the age check)',
      `t=NaN,v1=${hmac(body, SECRETS[0], 'NaN')}`,
      body,
      'malformed_header',
    ],
    ['a timestamp with a fraction', `t=${now}.5,v1=${goodSig()}`, body, 'malformed_header'],
    ['two timestamps', `t=${now},t=${now - 600},v1=${goodSig()}`, body, 'malformed_header'],
    ['a negative timestamp', `t=-1,v1=${goodSig(body, SECRETS[0], -1)}`, body, 'malformed_header'],
    ['several v1 signatures, none right', `t=${now},v1=${'0'.repeat(64)},v1=${goodSig(body, 'whsec_other')}`, body, 'no_match'],
    ['a secret that is not configured', signatureHeader(body, 'whsec_unknown'), body, 'no_match'],
    ['a body changed after signing', signatureHeader(body, SECRETS[0]), body.replace('invoice.paid', 'invoice.payment_failed'), 'no_match'],
    ['a timestamp 10 minutes old', signatureHeader(body, SECRETS[0], now - 600), body, 'stale_timestamp'],
    ['a timestamp 10 minutes old (rotated secret)', signatureHeader(body, SECRETS[1], now - 600), body, 'stale_timestamp'],
    ['an empty body', signatureHeader(body, SECRETS[0]), '', 'no_match'],
    ['no body', signatureHeader(body, SECRETS[0]), null, 'no_match'],
  ])('rejects %s as invalid_signature (%s)', (_name, header, payload, reason) => {
    expect(verify(header, payload)).toEqual({ ok: false, error: 'invalid_signature', reason });
  });

  it.each([
    ['text that is not JSON', 'hello', 'body is not valid JSON'],
    ['a JSON array', '[1,2]', 'not a JSON object'],
    ['JSON null', 'null', 'not a JSON object'],
    ['an object that is not an event', JSON.stringify({ ...event, object: 'invoice' }), 'object is not "event"'],
    ['an event id that is not evt_…', JSON.stringify({ ...event, id: 'evt_a:b' }), 'id is not a Stripe event id (evt_…)'],
    ['an event without data.object', JSON.stringify({ ...event, data: {} }), 'data.object is missing'],
    ['a thin v2 event notification', JSON.stringify({ id: 'evt_x', object: 'v2.core.event', type: 'x' }), 'not a webhook event'],
  ])('verifies, then rejects %s as invalid_payload', (_name, payload, reason) => {
    const header = signatureHeader(payload, SECRETS[1]);
    expect(verify(header, payload)).toEqual({ ok: false, error: 'invalid_payload', reason, secretIndex: 1 });
  });
});
