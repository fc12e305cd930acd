import { billingMetadata, idOf, invoiceSubscription, requireObject } from '../normalise';
import type { StatusRule } from '../intent';
import type { Handler } from './types';

/**
 * Invoice events: paid recovers `past_due` → `active`; failed moves to `past_due`.
 * An invoice outside a subscription (one-off) is recorded and ignored.
 */
export const invoiceSettled =
  (status: StatusRule): Handler =>
  (event, config) => {
    const invoice = requireObject(event.data.object, 'invoice', event.type);
    const customerId = idOf(invoice.customer);
    const { subscriptionId, metadata } = invoiceSubscription(invoice);
    if (!subscriptionId) return { kind: 'ignore', reason: 'invoice without a subscription', subscriptionId, customerId };
    const billing = billingMetadata(metadata, config);
    return {
      kind: 'subscription',
      subscriptionId,
      customerId,
      user: { customerId, metadataUserId: billing.userId, emails: [] },
      status,
      currentPeriodEnd: undefined,
      planSlug: billing.planSlug,
    period: billing.period,
      interval: undefined,
      enrichable: false,
    };
  };
