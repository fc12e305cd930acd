import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { subscriptions, users } from '@billing/db/schema';
import type { Transaction } from './transaction';
import type { UserHints } from './intent';

export type ResolvedVia = 'customer' | 'subscription' | 'metadata' | 'email';

export interface ResolvedUser {
  id: number;
  via: ResolvedVia;
}

/**
 * DESIGN.md's trust order: the event's customer id (server-set) → the user of the subscription
 * row we already hold (also server-set ids) → metadata user id, re-checked against the table →
 * checkout email. A user found by metadata or email gets the customer id bound when it has none.
 *
 * When the customer id is not bound yet, the rest runs under a transaction-scoped advisory lock
 * on that customer id, so an event deciding `unresolved` and a checkout binding the customer
 * never interleave: either the event sees the binding, or its `unresolved` row is committed
 * before the checkout looks for unresolved events to re-run.
 */
export async function resolveUser(tx: Transaction, hints: UserHints, subscriptionId: string): Promise<ResolvedUser | null> {
  const byCustomer = async () => {
    if (!hints.customerId) return undefined;
    const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.stripeCustomerId, hints.customerId));
    return user;
  };
  const first = await byCustomer();
  if (first) return { id: first.id, via: 'customer' };
  if (hints.customerId) {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`customer:${hints.customerId}`}, 0))`);
    const afterLock = await byCustomer();
    if (afterLock) return { id: afterLock.id, via: 'customer' };
  }

  const [bySubscription] = await tx
    .select({ id: users.id })
    .from(subscriptions)
    .innerJoin(users, eq(users.id, subscriptions.userId))
    .where(eq(subscriptions.stripeSubscriptionId, subscriptionId));
  if (bySubscription) return { id: bySubscription.id, via: 'subscription' };

  let found: { id: number; stripeCustomerId: string | null; via: ResolvedVia } | undefined;
  if (hints.metadataUserId !== null) {
    const [byId] = await tx
      .select({ id: users.id, stripeCustomerId: users.stripeCustomerId })
      .from(users)
      .where(eq(users.id, hints.metadataUserId));
    if (byId) found = { ...byId, via: 'metadata' };
  }
  if (!found && hints.emails.length > 0) {
    const byEmail = await tx
      .select({ id: users.id, stripeCustomerId: users.stripeCustomerId, email: users.email })
      .from(users)
      .where(inArray(users.email, hints.emails));
    for (const email of hints.emails) {
      const match = byEmail.find((u) => u.email === email);
      if (match) {
        found = { id: match.id, stripeCustomerId: match.stripeCustomerId, via: 'email' };
        break;
      }
    }
  }
  if (!found) return null;

  if (hints.customerId && found.stripeCustomerId === null) {
    // Conditional so a concurrent bind is not overwritten; a clash on the unique index throws and the job retries.
    await tx
      .update(users)
      .set({ stripeCustomerId: hints.customerId })
      .where(and(eq(users.id, found.id), isNull(users.stripeCustomerId)));
  }
  return { id: found.id, via: found.via };
}
