import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalJson } from './canonical-json';
import type { StripeEvent, StripeEventJobData } from './contract';

/**
 * The trust boundary between the ingress and the worker: only events whose Stripe signature the
 * ingress verified change billing state. The ingress signs each job's event with a key of the
 * queue's own (`QUEUE_SIGNING_KEY`, HMAC-SHA256); the worker refuses a job whose signature does not
 * verify — one added through the dashboard, or written into the queue's store by anyone without the
 * key. Several keys while rotating: the first signs, any verifies.
 *
 * Scheme 2 (what is signed now) covers the event's canonical JSON (`canonicalJson`: keys sorted),
 * so a job verifies on either backend — Postgres stores job data as `jsonb`, which reorders keys.
 * Scheme 1 covered `JSON.stringify` of the event as stored, which only Redis keeps; jobs signed
 * under it still verify until they are gone.
 */
export interface JobSignature {
  /** Scheme version: 2 = HMAC over the canonical JSON; 1 = over the JSON as stored. */
  v: 1 | 2;
  /** Which key signed it: the first 8 hex digits of the key's SHA-256 (so the list may be reordered while rotating). */
  kid: string;
  mac: string;
}

export type SignedJobData = StripeEventJobData & { _signature: JobSignature };

export type Verified = { ok: true; event: StripeEvent } | { ok: false; reason: string };

export interface JobSigner {
  sign: (event: StripeEvent) => SignedJobData;
  verify: (data: unknown) => Verified;
}

export function jobSigner(keys: readonly string[]): JobSigner {
  if (keys.length === 0 || keys.some((key) => key.length < 32)) throw new TypeError('jobSigner: each key needs at least 32 characters');
  const mac = (key: string, event: StripeEvent, scheme: 1 | 2) =>
    createHmac('sha256', key)
      .update(scheme === 2 ? canonicalJson(event) : JSON.stringify(event), 'utf8')
      .digest('hex');
  const byKid = new Map(keys.map((key) => [createHash('sha256').update(key).digest('hex').slice(0, 8), key]));
  const signingKid = [...byKid.keys()][0]!;
  return {
    sign: (event) => {
      const { _signature: _old, ...plain } = event as SignedJobData;
      return { ...plain, _signature: { v: 2, kid: signingKid, mac: mac(keys[0]!, plain as StripeEvent, 2) } } as SignedJobData;
    },
    verify: (data) => {
      if (typeof data !== 'object' || data === null) return { ok: false, reason: 'the job has no data' };
      const { _signature: signature, ...event } = data as SignedJobData;
      if (typeof signature !== 'object' || signature === null) return { ok: false, reason: 'the job is not signed by the ingress' };
      const key = typeof signature.kid === 'string' ? byKid.get(signature.kid) : undefined;
      if ((signature.v !== 1 && signature.v !== 2) || key === undefined || typeof signature.mac !== 'string')
        return { ok: false, reason: 'the job’s signature names no key of this worker' };
      const expected = Buffer.from(mac(key, event as StripeEvent, signature.v), 'hex');
      const given = Buffer.from(signature.mac, 'hex');
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        return { ok: false, reason: 'the job’s signature does not match its event (changed since the ingress signed it, or another key)' };
      return { ok: true, event: event as StripeEvent };
    },
  };
}
