import { createHmac } from 'node:crypto';
import { event, hmac, signatureHeader, stripeId, subscriptionObject } from '@billing/stripe-simulator/events';
import type { HttpRequest } from '@billing/testing/faults/http-client';
import { seededBytes } from '@billing/testing/seeded-random';

/** A request the ingress must refuse with a 4xx, never enqueue, and survive. */
export interface HostileCase {
  kind: string;
  request: Omit<HttpRequest, 'port'>;
  /**
   * An oversized body: the server may answer 413 and close while the client is still writing,
   * and the kernel's reset can then discard the answer (EPIPE/ECONNRESET on the client). Stripe
   * counts that as a failed delivery, exactly like the 413.
   */
  mayCloseEarly?: boolean;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const MiB = 1024 * 1024;
const now = () => Math.floor(Date.now() / 1000);

/** A real-shaped event body, so truncation and tampering start from something plausible. */
function eventBody(): string {
  const subscription = subscriptionObject({ id: stripeId('sub'), customer: stripeId('cus') });
  return JSON.stringify(event('customer.subscription.updated', subscription));
}

/** HMAC-SHA256 of `<t>.<body>` over the exact bytes given (Stripe decodes the body as UTF-8 first). */
function mac(secret: string, t: string | number, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

function post(
  signature: string | string[] | undefined,
  body: string | Buffer,
  extra: Partial<HostileCase['request']> = {},
): HostileCase['request'] {
  const headers: HostileCase['request']['headers'] = { ...JSON_TYPE, ...extra.headers };
  if (signature !== undefined) headers['stripe-signature'] = signature;
  return { ...extra, headers, body };
}

/**
 * The catalogue of hostile requests, each built fresh from `random` and the real `secret`
 * (signed garbage exercises the path after verification: parsing and validation). None of
 * them is a well-formed, correctly signed, fresh event, so none may be enqueued.
 */
export function hostileCases(random: () => number, secret: string): Array<() => HostileCase> {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const size = (max: number) => 1 + Math.floor(random() * max);
  const wrongMac = () => seededBytes(32, random).toString('hex');
  const wrong = () => `t=${now()},v1=${wrongMac()}`;
  const signed = (body: string) => post(signatureHeader(body, secret), body);
  const alone = { agent: false } as const; // a connection of its own: the server may close it

  return [
    () => ({ kind: 'random bytes, random signature', request: post(wrong(), seededBytes(size(4_096), random)) }),
    () => ({ kind: 'random bytes, validly signed', request: signed(seededBytes(size(4_096), random).toString('utf8')) }),
    () => {
      const body = eventBody();
      return { kind: 'truncated event JSON, validly signed', request: signed(body.slice(0, Math.floor(random() * (body.length - 1)))) };
    },
    () => {
      // Up to ~900 KB: under the body limit, so it reaches the parser.
      const depth = 1_000 + Math.floor(random() * 140_000);
      const body = random() < 0.5 ? '['.repeat(depth * 3) + ']'.repeat(depth * 3) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
      return { kind: 'deeply nested JSON, validly signed', request: signed(body) };
    },
    () => ({ kind: 'deeply nested JSON, unsigned', request: post(undefined, '['.repeat(100_000) + ']'.repeat(100_000)) }),
    () => {
      const valid = Buffer.from(eventBody());
      const at = valid.indexOf('"customer.subscription.updated"') + 5;
      const body = Buffer.concat([valid.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), valid.subarray(at)]);
      const t = now();
      return { kind: 'invalid UTF-8 in an event, HMAC over the raw bytes', request: post(`t=${t},v1=${mac(secret, t, body)}`, body) };
    },
    () => {
      const body = seededBytes(size(2_048), random);
      body[0] = 0xc0; // never valid UTF-8
      const t = now();
      return { kind: 'invalid UTF-8 bytes, HMAC over the raw bytes', request: post(`t=${t},v1=${mac(secret, t, body)}`, body) };
    },
    () => {
      const body = JSON.stringify({ ...JSON.parse(eventBody()), padding: 'x'.repeat(MiB) });
      return { kind: 'oversized body (1 MiB + event), validly signed', request: { ...signed(body), ...alone }, mayCloseEarly: true };
    },
    () => ({ kind: 'oversized body (4 MiB)', request: post(wrong(), Buffer.alloc(4 * MiB, 0x20), alone), mayCloseEarly: true }),
    () => ({
      kind: 'oversized body, chunked (2 MiB)',
      request: post(wrong(), Buffer.alloc(2 * MiB, 0x5b), { ...alone, chunked: true }),
      mayCloseEarly: true,
    }),
    () => ({ kind: 'oversized signature header (20 KiB)', request: post(`t=${now()},v1=${'a'.repeat(20 * 1024)}`, eventBody(), alone) }),
    () => {
      const headers: Record<string, string> = {};
      for (let i = 0; i < 300; i += 1) headers[`x-filler-${i}`] = 'y'.repeat(100);
      return { kind: 'oversized header block (300 headers, 30 KiB)', request: post(wrong(), eventBody(), { ...alone, headers }) };
    },
    () => {
      const entries = Array.from({ length: 100 + Math.floor(random() * 100) }, () => `v1=${wrongMac()}`);
      return { kind: 'signature header with 100-200 wrong v1 entries', request: post(`t=${now()},${entries.join(',')}`, eventBody()) };
    },
    () => {
      const body = eventBody();
      return { kind: 'signature without t', request: post(`v1=${hmac(body, secret, now())}`, body) };
    },
    () => {
      // Stripe's parser reads t with parseInt, so `t=<now>.5` with a valid HMAC for <now> is a valid
      // signature (nothing forged); only values with no leading integer are non-numeric here.
      const body = eventBody();
      const t = pick(['abc', '', 'x1', '\u00b9\u00b2\u00b3', ' ', 't']);
      const v1 = random() < 0.5 ? hmac(body, secret, now()) : mac(secret, t, body);
      return { kind: 'non-numeric t', request: post(`t=${t},v1=${v1}`, body) };
    },
    () => {
      // parseInt('NaN') is NaN and `${NaN}` is 'NaN': an HMAC over "NaN.<body>" matches, and the
      // age check `now - NaN > tolerance` is false, so the timestamp is never checked.
      const body = eventBody();
      return {
        kind: 'non-numeric t=NaN, HMAC over "NaN.<body>" (no timestamp check)',
        request: post(`t=NaN,v1=${mac(secret, 'NaN', body)}`, body),
      };
    },
    () => {
      const body = eventBody();
      const t = now();
      return { kind: 'only v0 (valid HMAC under the wrong scheme)', request: post(`t=${t},v0=${hmac(body, secret, t)}`, body) };
    },
    () => ({ kind: 'valid signature over a different body', request: post(signatureHeader(eventBody(), secret), eventBody()) }),
    () => {
      const body = eventBody();
      const t = now() - 301 - Math.floor(random() * 86_400);
      return { kind: 'valid signature, stale timestamp (replay)', request: post(`t=${t},v1=${hmac(body, secret, t)}`, body) };
    },
    () => {
      const body = eventBody();
      return { kind: 'signed with another secret', request: post(signatureHeader(body, 'whsec_not_the_one'), body) };
    },
    () => ({ kind: 'no signature header', request: post(undefined, eventBody()) }),
    () => ({ kind: 'empty body, validly signed', request: signed('') }),
    () => {
      const tampered = pick<Record<string, unknown>>([
        { id: '123' },
        { id: 'evt_a:b' },
        { id: `evt_${'A'.repeat(300)}` },
        { id: '__proto__' },
        { object: 'list' },
        { created: 'yesterday' },
        { type: '' },
        { data: null },
        { data: { object: 'subscription' } },
      ]);
      return {
        kind: 'signed JSON that is not a valid event',
        request: signed(JSON.stringify({ ...JSON.parse(eventBody()), ...tampered })),
      };
    },
    () => ({
      kind: 'signed JSON with prototype keys, not an event',
      request: signed('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}'),
    }),
    () => {
      const type = pick([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        ';;;',
        'application/json; charset=utf-16',
        'application/*+json',
      ]);
      return { kind: 'odd content type, wrong signature', request: post(wrong(), eventBody(), { headers: { 'content-type': type } }) };
    },
    () => ({ kind: 'two signature headers, both wrong', request: post([wrong(), wrong()], eventBody()) }),
    () => ({
      kind: 'other method on the webhook path',
      request: post(undefined, eventBody(), { method: pick(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) }),
    }),
    () => {
      const path = pick([
        '/checkout/webhooks/stripe/',
        '//checkout/webhooks/stripe',
        '/checkout/webhooks/STRIPE',
        '/checkout/webhooks/stripe/..',
        '/%2e%2e/checkout/webhooks/stripe',
        '/checkout/webhooks/stripe%00',
      ]);
      return { kind: 'path variants', request: post(undefined, eventBody(), { path }) };
    },
  ];
}
