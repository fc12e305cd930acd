import { describe, expect, it } from 'vitest';
import { minimiseEvent } from '@billing/queue';
import { LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
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
