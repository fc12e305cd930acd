import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json';
import type { StripeEvent } from './contract';
import { jobSigner, type SignedJobData } from './job-signature';

const event: StripeEvent = {
  id: 'evt_1',
  object: 'event',
  type: 'invoice.paid',
  created: 1_790_000_000,
  data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_1' } },
};
const KEY = 'k'.repeat(32);
const OTHER = 'o'.repeat(32);

describe('jobSigner', () => {
  it('verifies what it signed, as it comes back from Redis (JSON)', () => {
    const signer = jobSigner([KEY]);
    const stored = JSON.parse(JSON.stringify(signer.sign(event))) as unknown;
    expect(signer.verify(stored)).toEqual({ ok: true, event });
  });

  it.each([
    ['an unsigned job (added through the dashboard, or written into Redis)', event, 'the job is not signed by the ingress'],
    [
      'a changed event',
      { ...jobSigner([KEY]).sign(event), type: 'checkout.session.completed' },
      'the job’s signature does not match its event (changed since the ingress signed it, or another key)',
    ],
    [
      'a changed object',
      { ...jobSigner([KEY]).sign(event), data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_2' } } },
      'the job’s signature does not match its event (changed since the ingress signed it, or another key)',
    ],
    ['another key', jobSigner([OTHER]).sign(event), 'the job’s signature names no key of this worker'],
    ['no data', null, 'the job has no data'],
  ])('refuses %s', (_name, data, reason) => {
    expect(jobSigner([KEY]).verify(data)).toEqual({ ok: false, reason });
  });

  it('rotation: the new key signs, jobs signed with the old one still verify, in either order of the list', () => {
    const old = jobSigner([OTHER]).sign(event);
    const rotating = jobSigner([KEY, OTHER]);
    expect(rotating.verify(old)).toMatchObject({ ok: true });
    expect(jobSigner([OTHER, KEY]).verify(rotating.sign(event))).toMatchObject({ ok: true });
    expect(jobSigner([KEY]).verify(rotating.sign(event))).toMatchObject({ ok: true });
  });

  it('signing again replaces the signature (erasing personal data re-signs)', () => {
    const signer = jobSigner([KEY]);
    const resigned = signer.sign({ ...signer.sign(event), livemode: true } as StripeEvent);
    expect(signer.verify(resigned)).toEqual({ ok: true, event: { ...event, livemode: true } });
  });

  it('verifies what it signed with its keys reordered, as Postgres jsonb returns them (shorter keys first)', () => {
    const signer = jobSigner([KEY]);
    const nested = { ...event, data: { object: { subscription: 'sub_1', id: 'in_1', object: 'invoice', metadata: { zz: '1', a: '2' } } } };
    const signed = signer.sign(nested);
    const reorder = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(reorder);
      if (typeof value !== 'object' || value === null) return value;
      const keys = Object.keys(value).sort((a, b) => a.length - b.length || (a < b ? 1 : -1));
      return Object.fromEntries(keys.map((key) => [key, reorder((value as Record<string, unknown>)[key])]));
    };
    const fromJsonb = reorder(JSON.parse(JSON.stringify(signed)));
    expect(JSON.stringify(fromJsonb)).not.toBe(JSON.stringify(signed));
    expect(signer.verify(fromJsonb)).toEqual({ ok: true, event: nested });
    expect((signed as SignedJobData)._signature.v).toBe(2);
  });

  it('jobs signed under scheme 1 (JSON as stored, before the canonical form) still verify, and only as stored', () => {
    const kid = createHash('sha256').update(KEY).digest('hex').slice(0, 8);
    const mac = createHmac('sha256', KEY).update(JSON.stringify(event), 'utf8').digest('hex');
    const legacy = { ...event, _signature: { v: 1, kid, mac } };
    expect(jobSigner([KEY]).verify(legacy)).toEqual({ ok: true, event });
    const reordered = {
      _signature: legacy._signature,
      data: event.data,
      created: event.created,
      type: event.type,
      object: event.object,
      id: event.id,
    };
    expect(jobSigner([KEY]).verify(reordered)).toMatchObject({ ok: false });
  });

  it('canonical JSON: keys sorted at every depth, undefined left out, arrays in order', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined, b: null }, 3], é: 'x' })).toBe('{"a":[{"b":null,"d":2},3],"b":1,"é":"x"}');
    expect(canonicalJson({ n: 1e21, m: -0, f: 0.1 })).toBe('{"f":0.1,"m":0,"n":1e+21}');
  });

  it('wants keys of 32 characters or more', () => {
    expect(() => jobSigner(['short'])).toThrow(/at least 32 characters/);
    expect(() => jobSigner([])).toThrow(/at least 32 characters/);
  });
});
