import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  serial,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

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
    /**
     * When the status took its current value: `status_at` of the event that changed it. An event that
     * says the same status again moves `status_at`, not this (a `past_due` grace counts from here).
     */
    statusSince: timestamp('status_since', tz),
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
    /** The API version the event was rendered in (a thin event's: the version its object was fetched in). */
    apiVersion: text('api_version'),
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

/** The host application contract's change types (docs/design.md "Host application contract"). */
export const OUTBOX_TYPES = [
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
  'user.access_granted',
  'user.access_revoked',
  'user.plan_changed',
  'user.entitlements_changed',
] as const;
export type OutboxType = (typeof OUTBOX_TYPES)[number];

/**
 * The outbox of billing changes: one row per change of a subscription's or a user's billing state,
 * written in the transaction that made it, delivered to the host after commit (signed HTTP
 * notifications, `pg_notify`, or read with a cursor `id > last seen`). `subject` is `sub_…` or
 * `user:<id>`; `sequence` counts that subject's changes from 1.
 */
export const billingOutbox = pgTable(
  'billing_outbox',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    type: text('type', { enum: OUTBOX_TYPES }).notNull(),
    subject: text('subject').notNull(),
    sequence: integer('sequence').notNull(),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    stripeSubscriptionId: text('stripe_subscription_id'),
    stripeCustomerId: text('stripe_customer_id'),
    /** The state after the change, and `changes`: field → [from, to]. */
    data: jsonb('data').notNull(),
    stripeEventIds: text('stripe_event_ids').array().notNull(),
    /** The causing event's time (Stripe's `created`), or the clock's for a change by time alone. */
    occurredAt: timestamp('occurred_at', tz).notNull(),
    createdAt: timestamp('created_at', tz).notNull().defaultNow(),
    /** When the host acknowledged it (a 2xx); null while it is still to be delivered. */
    deliveredAt: timestamp('delivered_at', tz),
    /** When its delivery job was written to the notifications queue (the relay writes the ones without). */
    enqueuedAt: timestamp('enqueued_at', tz),
  },
  (t) => [
    uniqueIndex('billing_outbox_subject_sequence').on(t.subject, t.sequence),
    check('billing_outbox_type_known', sql`${t.type} in (${sql.raw(OUTBOX_TYPES.map((type) => `'${type}'`).join(', '))})`),
    check('billing_outbox_sequence_positive', sql`${t.sequence} > 0`),
    index('billing_outbox_not_enqueued_idx')
      .on(t.id)
      .where(sql`${t.enqueuedAt} is null`),
    index('billing_outbox_undelivered_idx')
      .on(t.subject, t.sequence)
      .where(sql`${t.deliveredAt} is null`),
    index('billing_outbox_user_id_idx').on(t.userId),
    index('billing_outbox_created_at_idx').on(t.createdAt),
  ],
);

/**
 * The last outbox sequence of each subject, kept apart from the rows, which expire
 * (`OUTBOX_RETENTION_DAYS`), and, for a subscription, the state its rows have told the host so far
 * (status, plan, period, price, cancellation): the next row's `changes` start from it.
 */
export const billingOutboxSubjects = pgTable('billing_outbox_subjects', {
  subject: text('subject').primaryKey(),
  lastSequence: integer('last_sequence').notNull(),
  /** A subscription's published fields (null for a user: `billing_access` is a user's). */
  state: jsonb('state'),
});

/** Why a user has access, or not (docs/design.md "Host application contract", access policy). */
export const ACCESS_REASONS = ['active', 'trialing', 'past_due_grace', 'cancellation_scheduled', 'none'] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

/** One access decision per user with a subscription, kept by the worker under one policy; the host reads it. */
export const billingAccess = pgTable(
  'billing_access',
  {
    userId: integer('user_id')
      .primaryKey()
      .references(() => users.id, { onDelete: 'cascade' }),
    hasAccess: boolean('has_access').notNull(),
    planSlug: text('plan_slug'),
    reason: text('reason', { enum: ACCESS_REASONS }).notNull(),
    /** When access ends by the clock alone (grace over, trial over, a scheduled cancellation); the worker revokes it then. */
    accessUntil: timestamp('access_until', tz),
    /** Active feature lookup keys (Stripe Entitlements). */
    entitlements: text('entitlements')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    /** False while a summary said `has_more` and the rest could not be fetched (no STRIPE_SECRET_KEY, or it failed). */
    entitlementsComplete: boolean('entitlements_complete').notNull().default(true),
    updatedAt: timestamp('updated_at', tz).notNull().defaultNow(),
  },
  (t) => [
    check('billing_access_reason_known', sql`${t.reason} in (${sql.raw(ACCESS_REASONS.map((r) => `'${r}'`).join(', '))})`),
    index('billing_access_access_until_idx')
      .on(t.accessUntil)
      .where(sql`${t.hasAccess} and ${t.accessUntil} is not null`),
  ],
);

/**
 * A customer's active entitlements, as the newest `entitlements.active_entitlement_summary.updated`
 * said (the newest wins whatever the arrival order: `summary_at` is its event's `created`).
 */
export const customerEntitlements = pgTable('customer_entitlements', {
  stripeCustomerId: text('stripe_customer_id').primaryKey(),
  lookupKeys: text('lookup_keys').array().notNull(),
  summaryAt: timestamp('summary_at', tz).notNull(),
  /** The event that carried the summary. */
  stripeEventId: text('stripe_event_id').notNull(),
  /** False when the summary said `has_more` and the rest was not fetched. */
  complete: boolean('complete').notNull(),
  updatedAt: timestamp('updated_at', tz).notNull().defaultNow(),
});

/**
 * Periodic work that one worker at a time does (the unresolved sweep, the access clock, reconcile):
 * who holds it and until when. A holder renews while it works and releases when it ends or stops;
 * a holder that died lets go when `expires_at` passes.
 */
export const workerLeases = pgTable('worker_leases', {
  name: text('name').primaryKey(),
  holder: text('holder'),
  expiresAt: timestamp('expires_at', tz).notNull(),
  /** When the last holder released it after finishing: how long ago the work last ran. */
  finishedAt: timestamp('finished_at', tz),
});

/**
 * Reconcile runs (`npm run reconcile`, the worker's schedule): each sweep's progress, so a run that
 * was killed resumes after the last page it finished (`cursor`: the last subscription or event id
 * of that page, Stripe's `starting_after`), and what it found so far. `scope`: what the run
 * covers (`all`, `customer:cus_…`, with `+repair`; `events`, `events:cus_…`); one unfinished run per sweep and scope.
 */
export const reconcileRuns = pgTable(
  'reconcile_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sweep: text('sweep', { enum: ['state', 'events'] }).notNull(),
    scope: text('scope').notNull(),
    repair: boolean('repair').notNull(),
    /** The events sweep's window start (a resumed run keeps its own). */
    since: timestamp('since', tz),
    cursor: text('cursor'),
    pages: integer('pages').notNull().default(0),
    /** The drift found (and repaired) so far, the differences skipped, as the report lists them. */
    drifts: jsonb('drifts')
      .notNull()
      .default(sql`'[]'::jsonb`),
    skipped: jsonb('skipped')
      .notNull()
      .default(sql`'[]'::jsonb`),
    repaired: jsonb('repaired')
      .notNull()
      .default(sql`'[]'::jsonb`),
    startedAt: timestamp('started_at', tz).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', tz).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', tz),
  },
  (t) => [
    check('reconcile_runs_sweep_known', sql`${t.sweep} in ('state', 'events')`),
    uniqueIndex('reconcile_runs_unfinished_idx')
      .on(t.sweep, t.scope)
      .where(sql`${t.finishedAt} is null`),
  ],
);

/** The subscriptions a state sweep's run has listed (its pages so far): rows it did not list are looked up one by one at its end. */
export const reconcileRunSubscriptions = pgTable(
  'reconcile_run_subscriptions',
  {
    runId: bigint('run_id', { mode: 'number' })
      .notNull()
      .references(() => reconcileRuns.id, { onDelete: 'cascade' }),
    stripeSubscriptionId: text('stripe_subscription_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stripeSubscriptionId] })],
);

export type User = typeof users.$inferSelect;
export type Subscription = typeof subscriptions.$inferSelect;
export type WebhookEvent = typeof webhookEvents.$inferSelect;
export type SubscriptionTransition = typeof subscriptionTransitions.$inferSelect;
export type ErasedCustomer = typeof erasedCustomers.$inferSelect;
export type BillingOutboxRow = typeof billingOutbox.$inferSelect;
export type BillingAccessRow = typeof billingAccess.$inferSelect;
export type CustomerEntitlements = typeof customerEntitlements.$inferSelect;
export type WorkerLease = typeof workerLeases.$inferSelect;
