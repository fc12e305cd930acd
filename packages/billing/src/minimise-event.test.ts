import { describe, expect, it } from 'vitest';
import { jobSigner } from '@billing/queue';
import { jobPayload } from './job-payload';
import { minimiseEvent } from './minimise-event';
import { LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { activeEntitlementSummaryObject } from '@billing/stripe-simulator/entitlements';
import { event as stripeEvent } from '@billing/stripe-simulator/events';
import { defaultBillingConfig } from './config';
import { normaliseEvent } from './normalise-event';

/** What the ingress queues of an event (`minimiseEvent`) is all the worker reads of it, and no personal data. */

const histories = LIFECYCLE_CORPUS.flatMap((c) =>
  (['basil', 'legacy'] as const).map((shape) => ({
    name: `${c.name} (${shape})`,
    events: c.build({ tag: 'min', start: 1_790_000_000, user: { id: 7, email: 'ada@example.com' }, shape, customer: 'cus_min' }).events,
  })),
);

describe.each(histories)('$name', ({ events }) => {
  it('normalises to the same lifecycle input after minimisation', () => {
    for (const event of events)
      expect(normaliseEvent(minimiseEvent(event), defaultBillingConfig)).toEqual(normaliseEvent(event, defaultBillingConfig));
  });

  it('keeps no name, address, phone or contact email (only a checkout’s emails, which find its user)', () => {
    for (const event of events) {
      const text = JSON.stringify(minimiseEvent(event));
      expect(text).not.toMatch(/Ada Lovelace|rue Example|H2X 1Y4|billing-contact@example\.com|billing_details/);
      if (event.type !== 'checkout.session.completed') expect(text).not.toContain('ada@example.com');
    }
  });
});

it('an expanded customer keeps only its id', () => {
  const event = {
    id: 'evt_x',
    object: 'event' as const,
    type: 'invoice.paid',
    created: 1,
    data: { object: { id: 'in_x', object: 'invoice', customer: { id: 'cus_x', email: 'a@b.c', name: 'A' } } },
  };
  expect(minimiseEvent(event).data.object).toEqual({ id: 'in_x', object: 'invoice', customer: { id: 'cus_x' } });
});

it('an entitlements summary keeps its customer, its features’ lookup keys and has_more; normalises the same', () => {
  const summary = stripeEvent('entitlements.active_entitlement_summary.updated', {
    ...activeEntitlementSummaryObject('cus_x', ['export', 'seats', 'sso'], 2),
    customer: { id: 'cus_x', email: 'ada@example.com', name: 'Ada Lovelace' },
  });
  const minimised = minimiseEvent(summary);
  expect(JSON.stringify(minimised)).not.toMatch(/ada@example\.com|Ada Lovelace/);
  expect(minimised.data.object).toMatchObject({
    object: 'entitlements.active_entitlement_summary',
    customer: { id: 'cus_x' },
    entitlements: { has_more: true, data: [{ lookup_key: 'export' }, { lookup_key: 'seats' }] },
  });
  expect(normaliseEvent(minimised, defaultBillingConfig)).toEqual(normaliseEvent(summary, defaultBillingConfig));
  expect(normaliseEvent(minimised, defaultBillingConfig)).toMatchObject({
    customerId: 'cus_x',
    lookupKeys: ['export', 'seats'],
    hasMore: true,
  });
});

describe('NUL characters', () => {
  const withNul = {
    id: 'evt_nul',
    object: 'event' as const,
    type: 'checkout.session.completed',
    created: 1,
    data: {
      object: {
        id: 'cs_\u0000x',
        object: 'checkout.session',
        mode: 'subscription',
        customer: 'cus_\u0000',
        subscription: 'sub_x',
        customer_email: 'a\u0000@example.com',
        metadata: { 'dictia_\u0000plan_slug': 'pro\u0000', nested: { deep: ['\u0000'] } },
      },
    },
  };

  it('every kept string, keys too, has U+0000 replaced with U+FFFD (jsonb refuses \\u0000)', () => {
    const minimised = minimiseEvent(withNul);
    expect(JSON.stringify(minimised)).not.toContain('\\u0000');
    expect(minimised.data.object).toEqual({
      id: 'cs_\uFFFDx',
      object: 'checkout.session',
      mode: 'subscription',
      customer: 'cus_\uFFFD',
      subscription: 'sub_x',
      customer_email: 'a\uFFFD@example.com',
      metadata: { 'dictia_\uFFFDplan_slug': 'pro\uFFFD', nested: { deep: ['\uFFFD'] } },
    });
  });

  it('the signed payload verifies and holds no NUL', () => {
    const signer = jobSigner(['a-key-of-at-least-thirty-two-characters!']);
    const payload = jobPayload(signer, withNul);
    expect(JSON.stringify(payload)).not.toContain('\\u0000');
    expect(signer.verify(payload)).toMatchObject({ ok: true });
  });
});
