/**
 * The notifications the billing worker sends the host application (docs/operations.md
 * "Host application contract" and "Notifications"): one per change of billing state.
 */

export const SUBSCRIPTION_NOTIFICATION_TYPES = [
  'subscription.created',
  'subscription.activated',
  'subscription.trial_started',
  'subscription.past_due',
  'subscription.recovered',
  'subscription.unpaid',
  'subscription.paused',
  'subscription.resumed',
  'subscription.cancellation_scheduled',
  'subscription.cancellation_withdrawn',
  'subscription.plan_changed',
  'subscription.ended',
] as const;

export const USER_NOTIFICATION_TYPES = [
  'user.access_granted',
  'user.access_revoked',
  'user.plan_changed',
  'user.entitlements_changed',
] as const;

export const NOTIFICATION_TYPES = [...SUBSCRIPTION_NOTIFICATION_TYPES, ...USER_NOTIFICATION_TYPES] as const;

export type SubscriptionNotificationType = (typeof SUBSCRIPTION_NOTIFICATION_TYPES)[number];
export type UserNotificationType = (typeof USER_NOTIFICATION_TYPES)[number];
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

/** ISO 8601, UTC. */
export type IsoTime = string;

/** What changed: field → [from, to]; `from` is what the subject's previous notification told. */
export type Changes<T> = { [K in keyof T]?: [T[K], T[K]] };

export type SubscriptionStatus =
  'incomplete' | 'incomplete_expired' | 'trialing' | 'active' | 'past_due' | 'canceled' | 'unpaid' | 'paused';

/** A subscription's state after the change. */
export interface SubscriptionState {
  subscription_id: string;
  customer_id: string | null;
  user_id: number | null;
  status: SubscriptionStatus;
  /** When it took this status. */
  status_since: IsoTime | null;
  plan_slug: string;
  period: 'monthly' | 'yearly';
  price_id: string | null;
  current_period_end: IsoTime | null;
  /** When a scheduled cancellation takes effect (null: none scheduled). */
  cancel_at: IsoTime | null;
  trial_end: IsoTime | null;
}

export type AccessReason = 'active' | 'trialing' | 'past_due_grace' | 'cancellation_scheduled' | 'none';

/** A user's access decision after the change (what `billing_access` holds). */
export interface UserState {
  user_id: number;
  customer_id: string | null;
  has_access: boolean;
  plan_slug: string | null;
  reason: AccessReason;
  /** When the access ends by the clock alone (grace end, trial end, scheduled cancellation). */
  access_until: IsoTime | null;
  /** The subscription that grants it. */
  subscription_id: string | null;
  /** Active feature lookup keys, sorted. */
  entitlements: string[];
  entitlements_complete: boolean;
}

export type SubscriptionData = SubscriptionState & { changes: Changes<SubscriptionState> };
export type UserData = UserState & { changes: Changes<Pick<UserState, 'has_access' | 'plan_slug' | 'entitlements'>> };

interface NotificationOf<T extends NotificationType, D> {
  /** The outbox id (also the `webhook-id` header): deduplicate on it. */
  id: number;
  type: T;
  /** Per subject, from 1, without gaps: notifications of one subject arrive in this order. */
  sequence: number;
  /** `sub_…` for a subscription, `user:<id>` for a user. */
  subject: string;
  /** When the change happened (the causing Stripe event's `created`, or the clock's). */
  occurred_at: IsoTime;
  data: D;
}

export type SubscriptionNotification = {
  [T in SubscriptionNotificationType]: NotificationOf<T, SubscriptionData>;
}[SubscriptionNotificationType];
export type UserNotification = { [T in UserNotificationType]: NotificationOf<T, UserData> }[UserNotificationType];

/** A notification as the host receives it (narrow on `type`). */
export type BillingNotification = SubscriptionNotification | UserNotification;

export function isNotificationType(value: unknown): value is NotificationType {
  return typeof value === 'string' && (NOTIFICATION_TYPES as readonly string[]).includes(value);
}

export function isSubscriptionNotification(notification: BillingNotification): notification is SubscriptionNotification {
  return notification.type.startsWith('subscription.');
}
