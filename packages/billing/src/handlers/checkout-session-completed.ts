import { billingMetadata, idOf, normaliseEmails, requireObject } from '../normalise';
import { InvalidEventError } from '../invalid-event-error';
import type { Handler } from './types';

/** Subscription-mode checkout: the subscription becomes `active` with plan/period from metadata. */
export const checkoutSessionCompleted: Handler = (event, config) => {
  const session = requireObject(event.data.object, 'checkout.session', event.type);
  const customerId = idOf(session.customer);
  const subscriptionId = idOf(session.subscription);
  if (session.mode !== 'subscription') {
    return { kind: 'ignore', reason: `checkout in ${String(session.mode)} mode`, subscriptionId, customerId };
  }
  if (!subscriptionId) throw new InvalidEventError(`${event.type}: subscription-mode checkout without a subscription id`);
  const metadata = billingMetadata(session.metadata, config);
  const details = session.customer_details as { email?: unknown } | null | undefined;
  return {
    kind: 'subscription',
    subscriptionId,
    customerId,
    user: {
      customerId,
      metadataUserId: metadata.userId,
      emails: normaliseEmails(session.customer_email, details?.email),
    },
    status: { kind: 'set', status: 'active' },
    currentPeriodEnd: undefined,
    planSlug: metadata.planSlug,
    period: metadata.period,
    interval: undefined,
    enrichable: true,
  };
};
