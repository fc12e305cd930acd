/**
 * What the lifecycle rules read of an event, after normalisation (`normalise-event.ts`):
 * docs/design.md's two kinds of input, snapshots and hints. Times are Unix seconds, Stripe's
 * resolution, so equality means "the same second".
 */
export type Seconds = number;

export type Period = 'monthly' | 'yearly';

/** The facts of a subscription that a snapshot carries and the row stores. */
export interface SubscriptionFacts {
  currentPeriodEnd: Seconds | null;
  priceId: string | null;
  planSlug: string;
  period: Period;
  /** When a scheduled cancellation takes effect: `cancel_at`, else the period end while `cancel_at_period_end`. */
  cancelAt: Seconds | null;
  trialEnd: Seconds | null;
}

/**
 * The status and facts a snapshot's `previous_attributes` say it changed from: only the ones
 * that differ from the snapshot's own. Empty for a snapshot that names no change.
 */
export type ChangedFrom = Partial<SubscriptionFacts & { status: string }>;

/** A `customer.subscription.*` event, or a subscription fetched from the API: the whole object at a moment. */
export interface Snapshot {
  kind: 'snapshot';
  status: string;
  facts: SubscriptionFacts;
  from: ChangedFrom;
}

/** An event about something else that implies a status. */
export interface Hint {
  kind: 'hint';
  /** `payment_failed` → `past_due`; `paid` → a `past_due` subscription becomes `active`; `checkout` → provisional `active`. */
  hint: 'payment_failed' | 'paid' | 'checkout';
  /** Plan and period named by metadata (checkout's session, an invoice's subscription details): used while no price is known. */
  plan: { planSlug?: string; period?: Period };
  /** A failure of the subscription's first invoice: Stripe keeps such a subscription `incomplete`. */
  firstInvoice: boolean;
}

/** Where the user may be found, in docs/design.md's trust order. */
export interface UserHints {
  /** The event's `customer`: server-set, the most trusted route. */
  customerId: string | null;
  /** `<prefix>user_id` from metadata; re-checked against the table. */
  metadataUserId: number | null;
  /** Checkout emails in order of preference, lower-cased and trimmed. */
  emails: string[];
}

/** An event with an effect on one subscription. */
export interface LifecycleEvent {
  id: string;
  type: string;
  created: Seconds;
  /** The API version the event was rendered in (`api_version`); none for a thin event's own record. */
  apiVersion?: string | null;
  subscriptionId: string;
  customerId: string | null;
  user: UserHints;
  input: Snapshot | Hint;
}

/** A subscription fetched from the Stripe API for an event (a checkout): a snapshot taken at `at`, when the request was sent. */
export interface FetchedSnapshot {
  snapshot: Snapshot;
  at: Seconds;
}

/** An event recorded in the ledger as `ignored` (payment-mode checkout, one-off invoice, unhandled type). */
export interface IgnoredEvent {
  id: string;
  type: string;
  created: Seconds;
  /** The API version the event was rendered in (`api_version`); none for a thin event's own record. */
  apiVersion?: string | null;
  subscriptionId: string | null;
  customerId: string | null;
  ignored: string;
}

/**
 * `entitlements.active_entitlement_summary.updated`: a snapshot of a customer's active features at
 * the event's `created` time, of which the event carries only a first page (`hasMore`: there are more,
 * listed from the API).
 */
export interface EntitlementsEvent {
  id: string;
  type: string;
  created: Seconds;
  /** The API version the event was rendered in (`api_version`); none for a thin event's own record. */
  apiVersion?: string | null;
  subscriptionId: null;
  customerId: string;
  /** The first page's lookup keys, sorted, without repeats. */
  lookupKeys: string[];
  hasMore: boolean;
}

/** A customer's active entitlements listed from the Stripe API for a summary that said `has_more`: a snapshot taken at `at`, when the request was sent. */
export interface FetchedEntitlements {
  lookupKeys: string[];
  at: Seconds;
}

export type NormalisedEvent = LifecycleEvent | IgnoredEvent | EntitlementsEvent;

export function isIgnored(event: NormalisedEvent): event is IgnoredEvent {
  return 'ignored' in event;
}

export function isEntitlements(event: NormalisedEvent): event is EntitlementsEvent {
  return 'lookupKeys' in event;
}

/** An event with an effect on one subscription (neither ignored nor an entitlements summary). */
export function isLifecycle(event: NormalisedEvent): event is LifecycleEvent {
  return 'input' in event;
}
