import type { Database } from '@billing/db/client';
import { subscriptions, users, webhookEvents } from '@billing/db/schema';
import { and, eq, inArray, isNotNull, or, sql } from 'drizzle-orm';
import type { ErasePerson } from './erase-args';

/** The person as the database knows them. */
export interface PersonRows {
  userIds: number[];
  /** Every customer id of theirs: their user's, and their subscriptions'. */
  customers: string[];
}

const none = sql`false`;
const anyOf = <T extends string | number>(values: readonly T[], column: Parameters<typeof inArray>[0]) =>
  values.length > 0 ? inArray(column, [...values]) : none;

/** The person's user rows and customer ids: by email (users.email) or by customer id. */
export async function findPerson(db: Database, person: ErasePerson): Promise<PersonRows> {
  const found = await db
    .select({ id: users.id, customer: users.stripeCustomerId })
    .from(users)
    .where('email' in person ? eq(users.email, person.email) : eq(users.stripeCustomerId, person.customer));
  const userIds = found.map((u) => u.id);
  const customers = new Set(found.flatMap((u) => (u.customer ? [u.customer] : [])));
  if ('customer' in person) customers.add(person.customer);
  const linked = await db
    .select({ customer: subscriptions.stripeCustomerId })
    .from(subscriptions)
    .where(anyOf(userIds, subscriptions.userId));
  for (const s of linked) if (s.customer) customers.add(s.customer);
  return { userIds, customers: [...customers] };
}

export interface DatabaseErased {
  /** Users whose stripe_customer_id (and derived subscription_status) were cleared. */
  users: number;
  /** Subscriptions unlinked: user_id and stripe_customer_id cleared, the rows kept. */
  subscriptions: string[];
  /** Ledger rows that lost stripe_customer_id and their stored unresolved event; id, type and outcome kept. */
  ledger: number;
}

class DryRun extends Error {
  constructor(readonly erased: DatabaseErased) {
    super('dry run');
  }
}

/**
 * In one transaction:
 * 1. the users lose `stripe_customer_id`, and `subscription_status` (derived from their
 *    subscriptions, of which none is theirs any more); the row itself is the host's to delete;
 * 2. their subscriptions stay (the billing record, Law 25 art. 28.1) but lose `user_id` and
 *    `stripe_customer_id`;
 * 3. the ledger rows of their customers and subscriptions lose `stripe_customer_id` and
 *    `unresolved_input` (the stored event, which holds the customer id).
 * A dry run runs the same statements and rolls them back, so its counts are exact.
 */
export async function eraseDatabase(db: Database, person: PersonRows, dryRun: boolean): Promise<DatabaseErased> {
  const { userIds, customers } = person;
  try {
    return await db.transaction(async (tx) => {
      const unlinkedUsers = await tx
        .update(users)
        .set({ stripeCustomerId: null, subscriptionStatus: null })
        .where(
          and(
            or(anyOf(userIds, users.id), anyOf(customers, users.stripeCustomerId)),
            or(isNotNull(users.stripeCustomerId), isNotNull(users.subscriptionStatus)),
          ),
        )
        .returning({ id: users.id });
      const unlinked = await tx
        .update(subscriptions)
        .set({ userId: null, stripeCustomerId: null, updatedAt: sql`now()` })
        .where(or(anyOf(userIds, subscriptions.userId), anyOf(customers, subscriptions.stripeCustomerId)))
        .returning({ id: subscriptions.stripeSubscriptionId });
      const subscriptionIds = unlinked.map((s) => s.id);
      const ledger = await tx
        .update(webhookEvents)
        .set({ stripeCustomerId: null, unresolvedInput: null })
        .where(
          and(
            or(anyOf(customers, webhookEvents.stripeCustomerId), anyOf(subscriptionIds, webhookEvents.stripeSubscriptionId)),
            or(isNotNull(webhookEvents.stripeCustomerId), isNotNull(webhookEvents.unresolvedInput)),
          ),
        )
        .returning({ id: webhookEvents.id });
      const erased = { users: unlinkedUsers.length, subscriptions: subscriptionIds, ledger: ledger.length };
      if (dryRun) throw new DryRun(erased);
      return erased;
    });
  } catch (error) {
    if (error instanceof DryRun) return error.erased;
    throw error;
  }
}
