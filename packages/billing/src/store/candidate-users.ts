import { jsonb, textElements } from './sql-text';

/**
 * The users a batch's user resolution may find, as a condition on `users` — the SQL twin of
 * `resolveUser`'s routes (resolve-user.ts): the customer ids' users, the metadata user ids, the
 * emails, and the users the subscriptions' rows are linked to. The loader locks and loads exactly
 * these; `resolution-sql.int.test.ts` holds that resolving against them finds what resolving
 * against every user would.
 */
export function candidateUsers(
  routes: { customerIds: readonly string[]; metadataUserIds: readonly number[]; emails: readonly string[] },
  /** A query of subscription ids: the batch's, and those of its customers' unresolved events. */
  subscriptionIds: string,
): string {
  return `(
    stripe_customer_id in (${textElements(routes.customerIds)})
    or id in (select value::int from jsonb_array_elements_text(${jsonb(routes.metadataUserIds)}))
    or email in (${textElements(routes.emails)})
    or id in (select user_id from subscriptions where stripe_subscription_id in (${subscriptionIds})))`;
}
