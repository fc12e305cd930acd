import { and, eq, sql } from 'drizzle-orm';
import { subscriptions, subscriptionTransitions, users, type Subscription } from '@billing/db/schema';
import type { Transaction } from './transaction';

/** Locks the subscription row (if any) until the transaction ends, so events for it serialise. */
export async function lockSubscription(tx: Transaction, stripeSubscriptionId: string): Promise<Subscription | undefined> {
  const [row] = await tx
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.stripeSubscriptionId, stripeSubscriptionId))
    .for('update');
  return row;
}

/** Inserts the row unless a concurrent transaction just did; returns it only when this one inserted. */
export async function insertSubscription(
  tx: Transaction,
  values: typeof subscriptions.$inferInsert,
): Promise<Subscription | undefined> {
  const [row] = await tx
    .insert(subscriptions)
    .values(values)
    .onConflictDoNothing({ target: subscriptions.stripeSubscriptionId })
    .returning();
  return row;
}

export async function updateSubscription(
  tx: Transaction,
  id: number,
  patch: Partial<typeof subscriptions.$inferInsert>,
): Promise<void> {
  await tx.update(subscriptions).set(patch).where(eq(subscriptions.id, id));
}

export async function recordTransition(tx: Transaction, row: typeof subscriptionTransitions.$inferInsert): Promise<void> {
  await tx.insert(subscriptionTransitions).values(row);
}

/** The user's status follows its subscription's. */
export async function syncUserStatus(tx: Transaction, userId: number, status: string): Promise<void> {
  await tx
    .update(users)
    .set({ subscriptionStatus: status })
    .where(and(eq(users.id, userId), sql`${users.subscriptionStatus} is distinct from ${status}`));
}
