import { sql } from 'drizzle-orm';
import { bigserial, check, index, integer, jsonb, pgTable, serial, text, timestamp } from 'drizzle-orm/pg-core';

/** Ledger outcomes, as docs/design.md names them. */
export const OUTCOMES = ['applied', 'ignored', 'stale', 'unresolved'] as const;
export type Outcome = (typeof OUTCOMES)[number];

const tz = { withTimezone: true } as const;

/**
 * The minimal shape of the host application's users that the worker needs.
 * The host owns this table; `email` is stored lower-case (enforced by a check).
 */
export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    email: text('email').notNull().unique(),
    stripeCustomerId: text('stripe_customer_id').unique(),
    subscriptionStatus: text('subscription_status'),
    createdAt: timestamp('created_at', tz).notNull().defaultNow(),
  },
  (t) => [check('users_email_lower_case', sql`${t.email} = lower(${t.email})`)],
);

export const subscriptions = pgTable(
  'subscriptions',
  {
    id: serial('id').primaryKey(),
    // Quebec Law 25 art. 28.1: erasing a person keeps the billing record, unlinked.
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    stripeCustomerId: text('stripe_customer_id'),
    stripeSubscriptionId: text('stripe_subscription_id').notNull().unique(),
    planSlug: text('plan_slug').notNull(),
    period: text('period').notNull(),
    status: text('status').notNull(),
    stripePriceId: text('stripe_price_id'),
    currentPeriodEnd: timestamp('current_period_end', tz),
    /** When a scheduled cancellation takes effect: `cancel_at`, else `current_period_end` while `cancel_at_period_end`. */
    cancelAt: timestamp('cancel_at', tz),
    trialEnd: timestamp('trial_end', tz),
    /** The `created` time of the newest event applied; only ever moves forward. */
    lastEventAt: timestamp('last_event_at', tz),
    // Watermarks of the ordering rules (docs/design.md "Lifecycle rules", packages/billing/src/lifecycle.ts):
    /** `created` of the event that set `status`, and the status that event said it changed from. */
    statusAt: timestamp('status_at', tz),
    statusFrom: text('status_from'),
    /** The newest snapshot applied: its `created`, its own status, and what its `previous_attributes` said it changed from. Null: none yet (status provisional). */
    snapshotAt: timestamp('snapshot_at', tz),
    snapshotStatus: text('snapshot_status'),
    snapshotFrom: jsonb('snapshot_from'),
    createdAt: timestamp('created_at', tz).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', tz).notNull().defaultNow(),
  },
  (t) => [index('subscriptions_user_id_idx').on(t.userId), index('subscriptions_stripe_customer_id_idx').on(t.stripeCustomerId)],
);

/** Idempotency ledger: one row per Stripe event ever processed. */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    stripeEventId: text('stripe_event_id').notNull().unique(),
    eventType: text('event_type').notNull(),
    stripeSubscriptionId: text('stripe_subscription_id'),
    stripeCustomerId: text('stripe_customer_id'),
    outcome: text('outcome', { enum: OUTCOMES }).notNull(),
    processedAt: timestamp('processed_at', tz).notNull().defaultNow(),
    /** The event's `created` at Stripe: re-application and `explain` go in this order. */
    eventCreatedAt: timestamp('event_created_at', tz),
    /** The normalised event (no emails), kept while the outcome is `unresolved` so it can be applied once its customer is known. */
    unresolvedInput: jsonb('unresolved_input'),
  },
  (t) => [
    check('webhook_events_outcome_known', sql`${t.outcome} in ('applied', 'ignored', 'stale', 'unresolved')`),
    index('webhook_events_stripe_subscription_id_idx').on(t.stripeSubscriptionId),
    // Finds a customer's unresolved events to re-run once a checkout links the customer to a user.
    index('webhook_events_unresolved_customer_idx')
      .on(t.stripeCustomerId)
      .where(sql`${t.outcome} = 'unresolved'`),
  ],
);

/** Audit trail: one row each time an event changes a subscription's status. */
export const subscriptionTransitions = pgTable(
  'subscription_transitions',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    stripeSubscriptionId: text('stripe_subscription_id').notNull(),
    fromStatus: text('from_status'),
    toStatus: text('to_status').notNull(),
    stripeEventId: text('stripe_event_id').notNull(),
    eventCreatedAt: timestamp('event_created_at', tz).notNull(),
    appliedAt: timestamp('applied_at', tz).notNull().defaultNow(),
  },
  (t) => [index('subscription_transitions_subscription_idx').on(t.stripeSubscriptionId)],
);

/**
 * Customers whose person was erased (`npm run erase`), kept as a SHA-256 of the customer id (hex),
 * never the id itself: an event of such a customer finds its user only by the customer id bound
 * in `users.stripe_customer_id` (the host application linking the person again), never by
 * metadata, email or the subscription's link, and never binds the id.
 */
export const erasedCustomers = pgTable(
  'erased_customers',
  {
    customerIdSha256: text('customer_id_sha256').primaryKey(),
    erasedAt: timestamp('erased_at', tz).notNull().defaultNow(),
  },
  (t) => [check('erased_customers_sha256_hex', sql`${t.customerIdSha256} ~ '^[0-9a-f]{64}$'`)],
);

export type User = typeof users.$inferSelect;
export type Subscription = typeof subscriptions.$inferSelect;
export type WebhookEvent = typeof webhookEvents.$inferSelect;
export type SubscriptionTransition = typeof subscriptionTransitions.$inferSelect;
export type ErasedCustomer = typeof erasedCustomers.$inferSelect;
