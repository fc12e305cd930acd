/**
 * What an event asks of a subscription, independent of the database's current state.
 * Handlers produce intents (pure); `applyEvent` applies them under the lifecycle rules.
 */
export type StatusRule =
  /** Set this Stripe status (subscription events, checkout → `active`). */
  | { kind: 'set'; status: string }
  /** Invoice paid: `past_due` → `active`, any other status unchanged. */
  | { kind: 'recover' }
  /** Invoice payment failed: → `past_due`. */
  | { kind: 'past_due' };

export interface UserHints {
  /** The event's `customer` id: server-set, the most trusted route. */
  customerId: string | null;
  /** `<prefix>user_id` from metadata; re-checked against the table. */
  metadataUserId: number | null;
  /** Checkout emails in order of preference, lower-cased and trimmed. */
  emails: string[];
}

export interface SubscriptionIntent {
  kind: 'subscription';
  subscriptionId: string;
  customerId: string | null;
  user: UserHints;
  status: StatusRule;
  /** `undefined`: the event does not say (leave as is); `null`: explicitly none. */
  currentPeriodEnd: Date | null | undefined;
  /** From metadata (catalog-checked); `undefined` when the event's metadata does not say. */
  planSlug: string | undefined;
  /** From metadata (`monthly`/`yearly`); `undefined` when the event's metadata does not say. */
  period: string | undefined;
  /** The price interval (`month`, `year`), for the period when metadata has none. */
  interval: string | undefined;
  /** Checkout in subscription mode: may be enriched from the Stripe API. */
  enrichable: boolean;
}

export interface IgnoreIntent {
  kind: 'ignore';
  reason: string;
  subscriptionId: string | null;
  customerId: string | null;
}

export type Intent = SubscriptionIntent | IgnoreIntent;
