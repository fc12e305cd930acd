import { InvalidEventError } from '../invalid-event-error';
import { billingMetadata, idOf, requireObject, subscriptionInterval, subscriptionPeriodEnd } from '../normalise';
import type { Handler } from './types';

/**
 * `customer.subscription.created` / `.updated` / `.deleted`: copy the status and period end.
 * Deleted events carry `status: canceled`; it is forced in case an older API version did not.
 */
export const subscriptionChanged =
  (forcedStatus?: string): Handler =>
  (event, config) => {
    const subscription = requireObject(event.data.object, 'subscription', event.type);
    const status = forcedStatus ?? subscription.status;
    if (typeof status !== 'string' || status.length === 0) {
      throw new InvalidEventError(`${event.type}: the subscription has no status`);
    }
    const customerId = idOf(subscription.customer);
    const interval = subscriptionInterval(subscription);
    const metadata = billingMetadata(subscription.metadata, config);
    return {
      kind: 'subscription',
      subscriptionId: subscription.id as string,
      customerId,
      user: { customerId, metadataUserId: metadata.userId, emails: [] },
      status: { kind: 'set', status },
      currentPeriodEnd: subscriptionPeriodEnd(subscription),
      planSlug: metadata.planSlug,
    period: metadata.period,
      interval,
      enrichable: false,
    };
  };
