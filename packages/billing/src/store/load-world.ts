import { isIgnored, type LifecycleEvent, type NormalisedEvent } from '../lifecycle-input';
import type { StoredUnresolved, World } from '../reduce-events';
import { userDirectory } from '../resolve-user';
import { advisoryLockStatement, lockKeys } from './advisory-locks';
import { candidateUsers } from './candidate-users';
import { isErasedCustomer } from './erased-customers';
import { jsonb, setTransactionToken, textElements } from './sql-text';
import { stateFromRow, SUBSCRIPTION_SELECT, type SubscriptionRow } from './subscription-columns';

/** What the batch touches. */
export interface Scope {
  lockKeys: string[];
  subscriptionIds: string[];
  customerIds: string[];
  metadataUserIds: number[];
  emails: string[];
}

/** What the events touch, and the customers and subscriptions a sweep adds (their unresolved events). */
export function scopeOf(events: readonly NormalisedEvent[], extra: { customerIds?: string[]; subscriptionIds?: string[] } = {}): Scope {
  const lifecycle = events.filter((e): e is LifecycleEvent => !isIgnored(e));
  const unique = <T>(values: Array<T | null>) => [...new Set(values.filter((v): v is T => v !== null))];
  const subscriptionIds = unique([...lifecycle.map((e) => e.subscriptionId), ...(extra.subscriptionIds ?? [])]).sort();
  const customerIds = unique([...lifecycle.map((e) => e.customerId), ...(extra.customerIds ?? [])]).sort();
  return {
    lockKeys: lockKeys({ subscriptionIds, customerIds }),
    subscriptionIds,
    customerIds,
    metadataUserIds: unique(lifecycle.map((e) => e.user.metadataUserId)),
    emails: unique(lifecycle.flatMap((e) => e.user.emails)),
  };
}

/** One result per statement, as postgres-js returns a multi-statement message. */
type Rows = ReadonlyArray<Record<string, unknown>>;

export interface Loaded {
  /** Event ids the ledger took as new (or as a re-processed `unresolved` row). */
  fresh: Set<string>;
  world: World;
}

/**
 * The first message of a batch, one round trip: `begin`, then
 * 1. the batch's transaction token (checked before the writes);
 * 2. transaction-scoped advisory locks on each subscription and customer (sorted: no deadlock;
 *    safe behind a transaction-mode pooler, unlike session locks);
 * 3. the ledger rows, first write of the transaction (`ON CONFLICT`: already processed → not
 *    fresh; an `unresolved` row is the one outcome that may be taken again);
 * 4. the subscription rows, also those of the customers' unresolved events;
 * 5. every user resolution may find, locked in id order; then, in a statement of its own after
 *    the lock (so it sees what a transaction that held the lock committed), all of their
 *    subscriptions' statuses;
 * 6. the unresolved ledger rows of the batch's customers and subscriptions;
 * 7. which of those customers (the batch's and the unresolved rows') were erased.
 * Every statement after `begin` returns rows, so postgres-js gives one result per statement.
 */
export function loadMessage(events: readonly NormalisedEvent[], scope: Scope, token: string): string {
  const ledgerRows = events.map((e) => ({
    id: e.id,
    type: e.type,
    subscription: e.subscriptionId,
    customer: e.customerId,
    created: e.created,
    outcome: isIgnored(e) ? 'ignored' : 'applied',
  }));
  const ledger = `
    insert into webhook_events (stripe_event_id, event_type, stripe_subscription_id, stripe_customer_id, outcome, event_created_at)
    select e.id, e.type, e.subscription, e.customer, e.outcome, to_timestamp(e.created)
    from jsonb_to_recordset(${jsonb(ledgerRows)}) as e(id text, type text, subscription text, customer text, created bigint, outcome text)
    on conflict (stripe_event_id) do update set outcome = excluded.outcome, unresolved_input = null, processed_at = now()
      where webhook_events.outcome = 'unresolved'
    returning stripe_event_id`;
  if (isLedgerOnly(scope)) return ['begin', setTransactionToken(token), ledger].join(';\n');

  const customers = textElements(scope.customerIds);
  const wantedSubscriptions = `
    ${textElements(scope.subscriptionIds)}
    union
    select stripe_subscription_id from webhook_events
    where outcome = 'unresolved' and stripe_subscription_id is not null and stripe_customer_id in (${customers})`;
  const unresolvedOfScope = `outcome = 'unresolved' and (stripe_customer_id in (${customers}) or stripe_subscription_id in (${textElements(scope.subscriptionIds)}))`;
  const users = candidateUsers(scope, wantedSubscriptions);
  return [
    'begin',
    setTransactionToken(token),
    advisoryLockStatement(scope.lockKeys),
    ledger,
    `select ${SUBSCRIPTION_SELECT} from subscriptions where stripe_subscription_id in (${wantedSubscriptions})`,
    `select id, email, stripe_customer_id, subscription_status from users where ${users} order by id for update`,
    `select user_id, stripe_subscription_id, status from subscriptions where user_id in (select id from users where ${users})`,
    `select stripe_event_id, stripe_customer_id, stripe_subscription_id, floor(extract(epoch from event_created_at))::float8 as event_created_at, unresolved_input
     from webhook_events where ${unresolvedOfScope}`,
    `select c.customer from (${customers} union select stripe_customer_id from webhook_events where ${unresolvedOfScope}) as c(customer)
     where c.customer is not null and ${isErasedCustomer('c.customer')}`,
  ].join(';\n');
}

/** The fresh ids and the world, from the results of `loadMessage` (in its statement order). */
export function loadedFrom(results: readonly Rows[], scope: Scope): Loaded {
  const [, , ...rest] = results; // begin, token
  if (isLedgerOnly(scope)) {
    return {
      fresh: idsOf(rest[0]),
      world: { subscriptions: new Map(), users: userDirectory([]), userSubscriptions: new Map(), unresolved: [] },
    };
  }
  const [, ledger, subscriptions, users, userSubscriptions, unresolved, erased] = rest as Rows[];
  const byUser = new Map<number, Map<string, string>>();
  for (const row of userSubscriptions as Array<{ user_id: number; stripe_subscription_id: string; status: string }>) {
    byUser.set(row.user_id, (byUser.get(row.user_id) ?? new Map<string, string>()).set(row.stripe_subscription_id, row.status));
  }
  const stored = (
    unresolved as Array<{
      stripe_event_id: string;
      stripe_customer_id: string | null;
      stripe_subscription_id: string | null;
      event_created_at: number | null;
      unresolved_input: LifecycleEvent | null;
    }>
  ).map((row): StoredUnresolved => ({
    eventId: row.stripe_event_id,
    customerId: row.stripe_customer_id,
    subscriptionId: row.stripe_subscription_id,
    created: row.event_created_at,
    event: row.unresolved_input,
  }));
  const userRows = users as Array<{ id: number; email: string; stripe_customer_id: string | null; subscription_status: string | null }>;
  return {
    fresh: idsOf(ledger),
    world: {
      subscriptions: new Map((subscriptions as unknown as SubscriptionRow[]).map((row) => [row.stripe_subscription_id, stateFromRow(row)])),
      users: userDirectory(
        userRows.map((u) => ({ id: u.id, email: u.email, customerId: u.stripe_customer_id, status: u.subscription_status })),
      ),
      userSubscriptions: byUser,
      unresolved: stored,
      erasedCustomers: new Set((erased as Array<{ customer: string }>).map((row) => row.customer)),
    },
  };
}

/** Only ignored events: nothing to lock or load. */
function isLedgerOnly(scope: Scope): boolean {
  return scope.subscriptionIds.length === 0 && scope.customerIds.length === 0;
}

function idsOf(rows: Rows | undefined): Set<string> {
  return new Set((rows ?? []).map((r) => r.stripe_event_id as string));
}
