import { advisoryLockStatement, customerIdHash, lockKeys } from '@billing/billing';
import type { Database } from '@billing/db/client';
import {
  billingAccess,
  billingOutbox,
  customerEntitlements,
  erasedCustomers,
  subscriptions,
  users,
  webhookEvents,
} from '@billing/db/schema';
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
  /**
   * What the host application contract held of the person, deleted: the outbox rows of their user and
   * subscriptions (their `data` names the customer and the user), their access decision, their
   * customers' entitlements. Each subject's last sequence stays (`billing_outbox_subjects`: no
   * personal data), so a subject's sequences never restart.
   */
  host: { outbox: number; access: number; entitlements: number };
}

class DryRun extends Error {
  constructor(readonly erased: DatabaseErased) {
    super('dry run');
  }
}

/** The person's rows found under the locks held a moment earlier grew: lock them all again, from the start. */
class ScopeGrew extends Error {
  constructor(readonly scope: Scope) {
    super('scope grew');
  }
}

type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

/** What erase touches and locks: the person's customers, and every subscription of theirs or of those customers. */
interface Scope {
  customers: string[];
  subscriptions: string[];
}

/** The person's customers and subscriptions as the database holds them now, with those already known. */
async function scopeOf(tx: Transaction | Database, userIds: readonly number[], known: Scope): Promise<Scope> {
  const userCustomers = await tx
    .select({ customer: users.stripeCustomerId })
    .from(users)
    .where(and(anyOf(userIds, users.id), isNotNull(users.stripeCustomerId)));
  const customers = new Set([...known.customers, ...userCustomers.map((u) => u.customer!)]);
  const rows = await tx
    .select({ id: subscriptions.stripeSubscriptionId, customer: subscriptions.stripeCustomerId })
    .from(subscriptions)
    .where(or(anyOf(userIds, subscriptions.userId), anyOf([...customers], subscriptions.stripeCustomerId)));
  for (const row of rows) if (row.customer) customers.add(row.customer);
  return { customers: [...customers].sort(), subscriptions: [...new Set([...known.subscriptions, ...rows.map((r) => r.id)])].sort() };
}

const covers = (held: Scope, found: Scope) =>
  found.customers.every((c) => held.customers.includes(c)) && found.subscriptions.every((s) => held.subscriptions.includes(s));

/**
 * In one transaction:
 * 1. the worker's advisory locks on every customer and subscription of the person (the same keys,
 *    hashed and ordered as the worker's batches take them: `lockKeys`, `advisoryLockStatement`),
 *    taken before anything is read, then the person's rows read under them — a worker transaction
 *    that loaded them earlier has committed, and one that starts now waits for this one; should
 *    the rows name a customer or subscription not locked yet, everything is locked again from the
 *    start (taking a lock out of order could deadlock with a batch);
 * 2. the users lose `stripe_customer_id`, and `subscription_status` (derived from their
 *    subscriptions, of which none is theirs any more); the row itself is the host's to delete;
 * 3. their subscriptions stay (the billing record, Law 25 art. 28.1) but lose `user_id` and
 *    `stripe_customer_id`;
 * 4. the ledger rows of their customers and subscriptions lose `stripe_customer_id` and
 *    `unresolved_input` (the stored event, which holds the customer id);
 * 5. the outbox rows of their user and subscriptions, their `billing_access` row and their
 *    customers' `customer_entitlements` are deleted;
 * 6. each customer id is remembered as erased (`erased_customers`: its SHA-256, not the id), so a
 *    later event of the customer finds the person only if the host application binds the id again.
 * A dry run runs the same statements and rolls them back, so its counts are exact.
 */
export async function eraseDatabase(db: Database, person: PersonRows, dryRun: boolean): Promise<DatabaseErased> {
  const { userIds } = person;
  // What to lock, read beforehand; read again under the locks.
  let held = await scopeOf(db, userIds, { customers: person.customers, subscriptions: [] });
  for (;;) {
    try {
      return await db.transaction(async (tx) => {
        await tx.execute(sql.raw(advisoryLockStatement(lockKeys({ customerIds: held.customers, subscriptionIds: held.subscriptions }))));
        const found = await scopeOf(tx, userIds, held);
        if (!covers(held, found)) throw new ScopeGrew(found);
        const { customers } = found;

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
        const outbox = await tx
          .delete(billingOutbox)
          .where(
            or(
              anyOf(userIds, billingOutbox.userId),
              anyOf(customers, billingOutbox.stripeCustomerId),
              anyOf(subscriptionIds, billingOutbox.stripeSubscriptionId),
              anyOf(
                userIds.map((id) => `user:${id}`),
                billingOutbox.subject,
              ),
            ),
          )
          .returning({ id: billingOutbox.id });
        const access = await tx.delete(billingAccess).where(anyOf(userIds, billingAccess.userId)).returning({ id: billingAccess.userId });
        const entitlements = await tx
          .delete(customerEntitlements)
          .where(anyOf(customers, customerEntitlements.stripeCustomerId))
          .returning({ id: customerEntitlements.stripeCustomerId });
        if (customers.length > 0) {
          await tx
            .insert(erasedCustomers)
            .values(customers.map((customer) => ({ customerIdSha256: customerIdHash(customer) })))
            .onConflictDoNothing();
        }
        const erased = {
          users: unlinkedUsers.length,
          subscriptions: subscriptionIds,
          ledger: ledger.length,
          host: { outbox: outbox.length, access: access.length, entitlements: entitlements.length },
        };
        if (dryRun) throw new DryRun(erased);
        return erased;
      });
    } catch (error) {
      if (error instanceof DryRun) return error.erased;
      if (error instanceof ScopeGrew) {
        held = error.scope;
        continue;
      }
      throw error;
    }
  }
}
