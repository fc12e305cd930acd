import { describe, expect, it } from 'vitest';
import { invoiceInShape, shapeOfVersion, subscriptionInShape } from './api-shape';
import { LIFECYCLE_CORPUS } from './corpus';
import { renderInvoice, renderSubscription } from './objects';

const T0 = 1_790_000_000;

/** Every subscription of the corpus, built in both shapes from one model. */
const subscriptions = LIFECYCLE_CORPUS.flatMap((c, i) =>
  c.build({ tag: `shape${i}x`, start: T0, user: { id: i + 1, email: `shape${i}@example.com` }, shape: 'basil' }).subscriptions.map((h) => ({
    name: `${c.name} (${h.ids.subscription})`,
    history: h,
  })),
);

describe('objects rendered in the request API version', () => {
  it.each([
    ['2024-06-20', 'legacy'],
    ['2025-02-24.acacia', 'legacy'],
    ['2025-03-31.basil', 'basil'],
    ['2026-10-28.endive', 'basil'],
  ] as const)('%s is the %s shape', (version, shape) => {
    expect(shapeOfVersion(version)).toBe(shape);
  });

  it.each(subscriptions)('$name: the subscription converts both ways exactly', ({ history }) => {
    const model = history.finalModel;
    const legacy = renderSubscription(model, history.ids, 'legacy');
    const basil = renderSubscription(model, history.ids, 'basil');
    expect(subscriptionInShape(legacy, 'basil')).toEqual(basil);
    expect(subscriptionInShape(basil, 'legacy')).toEqual(legacy);
    expect(subscriptionInShape(basil, 'basil')).toEqual(basil);
    expect(subscriptionInShape(legacy, 'legacy')).toEqual(legacy);
  });

  it.each(subscriptions)('$name: its latest invoice converts to the current shape exactly, and back keeps the link', ({ history }) => {
    const fields = { billingReason: 'subscription_cycle', paid: true };
    const legacy = renderInvoice(history.finalModel, history.ids, 'legacy', fields);
    const basil = renderInvoice(history.finalModel, history.ids, 'basil', fields);
    expect(invoiceInShape(legacy, 'basil')).toEqual(basil);
    const back = invoiceInShape(basil, 'legacy');
    expect(back.subscription).toBe(history.ids.subscription);
    expect(back.subscription_details).toEqual(legacy.subscription_details);
    expect(back).not.toHaveProperty('parent');
  });

  it('an invoice without a subscription keeps none', () => {
    const invoice = { id: 'in_1', object: 'invoice', subscription: null, subscription_details: null, lines: { data: [] } };
    expect(invoiceInShape(invoice, 'basil')).toEqual({ id: 'in_1', object: 'invoice', parent: null, lines: { data: [] } });
  });
});
