import { Webhook } from 'standardwebhooks';
import { isNotificationType, type BillingNotification } from './notification';

/** The request's signature, or its body, is not a billing notification signed with this secret. */
export class NotificationVerificationError extends Error {
  override name = 'NotificationVerificationError';
}

/** Node's `req.headers`, a Fetch `Headers`, or a plain record. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

/**
 * Verifies a notification's Standard Webhooks signature (`webhook-id`, `webhook-timestamp` within
 * 5 minutes, `webhook-signature`) over the raw body with `secret` (`NOTIFY_SECRET`, `whsec_…`), and
 * returns it parsed. Pass the body exactly as received (a string or the raw bytes, not re-serialised
 * JSON). Throws `NotificationVerificationError` otherwise.
 */
export function verifyNotification(body: string | Uint8Array, headers: HeadersLike, secret: string): BillingNotification {
  const plain = headerRecord(headers);
  let payload: unknown;
  try {
    payload = new Webhook(secret).verify(body, plain);
  } catch (error) {
    throw new NotificationVerificationError(`not a valid notification: ${(error as Error).message}`);
  }
  const notification = payload as Partial<BillingNotification> | null;
  if (typeof notification !== 'object' || notification === null || !isNotificationType(notification.type)) {
    throw new NotificationVerificationError('not a valid notification: signed, but not a billing notification');
  }
  if (String(notification.id) !== plain['webhook-id']) {
    throw new NotificationVerificationError('not a valid notification: its id differs from webhook-id');
  }
  return notification as BillingNotification;
}

function headerRecord(headers: HeadersLike): Record<string, string> {
  const record: Record<string, string> = {};
  const entries: Iterable<[string, string | string[] | undefined]> =
    typeof (headers as Headers).forEach === 'function' && typeof (headers as Headers).get === 'function'
      ? (headers as Headers).entries()
      : Object.entries(headers as Record<string, string | string[] | undefined>);
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    record[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return record;
}
