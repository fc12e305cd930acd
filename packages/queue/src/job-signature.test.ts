import { describe, expect, it } from 'vitest';
import type { StripeEvent } from './contract';
import { jobSigner } from './job-signature';

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

  it('wants keys of 32 characters or more', () => {
    expect(() => jobSigner(['short'])).toThrow(/at least 32 characters/);
    expect(() => jobSigner([])).toThrow(/at least 32 characters/);
  });
});
