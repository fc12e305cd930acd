import type { CustomerEntitlementsState } from '../entitlements';
import type { OutboxSubject, StoredAccess } from '../host-effects';
import { isEntitlements, isIgnored, isLifecycle, type LifecycleEvent, type NormalisedEvent } from '../lifecycle-input';
import type { SubscriptionState } from '../lifecycle';
import type { PublishedSubscription } from '../outbox-changes';
import type { StoredUnresolved, World } from '../reduce-events';
import { userDirectory } from '../resolve-user';
import { advisoryLockStatement, lockKeys } from './advisory-locks';
import { candidateUsers } from './candidate-users';
import { isErasedCustomer } from './erased-customers';
import { jsonb, setTransactionToken, textElements } from './sql-text';
import { stateFromRow, SUBSCRIPTION_SELECT, type SubscriptionRow } from './subscription-columns';

/** The transaction-local setting holding the ids of the users the batch locked (a JSON array). */
const LOCKED_USERS = 'billing.locked_users';

/** What the batch touches. */
export interface Scope {
  lockKeys: string[];
  subscriptionIds: string[];
  customerIds: string[];
  metadataUserIds: number[];
  emails: string[];
  /** Users loaded (and locked) whatever the events say: those whose access the clock decides again. */
  userIds: number[];
}

/** What the events touch, and what a sweep (the customers and subscriptions of unresolved events) or the clock (users) adds. */
export function scopeOf(
  events: readonly NormalisedEvent[],
  extra: { customerIds?: string[]; subscriptionIds?: string[]; userIds?: number[] } = {},
): Scope {
  const lifecycle = events.filter(isLifecycle);
  const summaries = events.filter(isEntitlements);
  const unique = <T>(values: Array<T | null>) => [...new Set(values.filter((v): v is T => v !== null))];
  const subscriptionIds = unique([...lifecycle.map((e) => e.subscriptionId), ...(extra.subscriptionIds ?? [])]).sort();
  const customerIds = unique([
    ...lifecycle.map((e) => e.customerId),
    ...summaries.map((e) => e.customerId),
    ...(extra.customerIds ?? []),
  ]).sort();
  return {
    lockKeys: lockKeys({ subscriptionIds, customerIds }),
    subscriptionIds,
    customerIds,
    metadataUserIds: unique(lifecycle.map((e) => e.user.metadataUserId)),
    emails: unique(lifecycle.flatMap((e) => e.user.emails)),
    userIds: unique(extra.userIds ?? []).sort((a, b) => a - b),
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
 * 5. every user resolution may find (and the clock's users), locked in id order; then, in
 *    statements of their own after the lock (so they see what a transaction that held the lock
 *    committed), all of their subscription rows, their `billing_access` rows and outbox sequences;
 * 6. the unresolved ledger rows of the batch's customers and subscriptions;
 * 7. which of those customers (the batch's and the unresolved rows') were erased;
 * 8. the entitlements of the batch's customers and of the users' customers;
 * 9. the outbox sequences (and what they told) of the subscriptions.
 * Every user-level write (`users`, `billing_access`, a user's outbox rows) is made under its row
 * lock of step 5, and every subscription's under its advisory lock of step 2, so the sequences read
 * here are the last ones written.
 * Every statement after `begin` returns rows, so postgres-js gives one result per statement.
 */
export function loadMessage(events: readonly NormalisedEvent[], scope: Scope, token: string): string {
  const ledgerRows = events.map((e) => ({
    id: e.id,
    type: e.type,
    subscription: e.subscriptionId,
    customer: e.customerId,
    created: e.created,
    api_version: e.apiVersion ?? null,
    outcome: isIgnored(e) ? 'ignored' : 'applied',
  }));
  const ledger = `
    insert into webhook_events (stripe_event_id, event_type, stripe_subscription_id, stripe_customer_id, outcome, event_created_at, api_version)
    select e.id, e.type, e.subscription, e.customer, e.outcome, to_timestamp(e.created), e.api_version
    from jsonb_to_recordset(${jsonb(ledgerRows)}) as e(id text, type text, subscription text, customer text, created bigint, outcome text, api_version text)
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
  const users = `(${candidateUsers(scope, wantedSubscriptions)} or id in (select value::int from jsonb_array_elements_text(${jsonb(scope.userIds)})))`;
  // The ids of the users locked, kept for the transaction by the locking statement itself, so the
  // statements after it find their rows by key instead of evaluating the candidates again. (With
  // no user locked the setting is never made: missing, or '' once the session has known it.)
  const lockedUsers = `select value::int from jsonb_array_elements_text(coalesce(nullif(current_setting('${LOCKED_USERS}', true), ''), '[]')::jsonb)`;
  return [
    'begin',
    setTransactionToken(token),
    advisoryLockStatement(scope.lockKeys),
    ledger,
    // Each subscription's outbox sequence is read by its id, whether its row exists or not.
    `select ${SUBSCRIPTION_SELECT}, w.id as wanted_id, o.last_sequence as outbox_last_sequence, o.state as outbox_state
     from (${wantedSubscriptions}) as w(id)
       left join subscriptions on stripe_subscription_id = w.id
       left join billing_outbox_subjects o on o.subject = w.id`,
    `with locked as (select id, email, stripe_customer_id, subscription_status from users where ${users} order by id for update)
     select locked.*, set_config('${LOCKED_USERS}', (select coalesce(json_agg(id), '[]')::text from locked), true) as locked_users from locked`,
    `select ${SUBSCRIPTION_SELECT} from subscriptions where user_id in (${lockedUsers})`,
    `select stripe_event_id, stripe_customer_id, stripe_subscription_id, floor(extract(epoch from event_created_at))::float8 as event_created_at, unresolved_input
     from webhook_events where ${unresolvedOfScope}`,
    `select c.customer from (${customers} union select stripe_customer_id from webhook_events where ${unresolvedOfScope}) as c(customer)
     where c.customer is not null and ${isErasedCustomer('c.customer')}`,
    `select u.id as user_id, a.user_id is not null as has_row, a.has_access, a.plan_slug, a.reason,
       floor(extract(epoch from a.access_until))::float8 as access_until, to_jsonb(a.entitlements) as entitlements,
       a.entitlements_complete, s.last_sequence, e.stripe_customer_id as entitled_customer, to_jsonb(e.lookup_keys) as lookup_keys,
       floor(extract(epoch from e.summary_at))::float8 as summary_at, e.stripe_event_id, e.complete
     from (${lockedUsers}) as l(id) join users u on u.id = l.id
       left join billing_access a on a.user_id = u.id
       left join billing_outbox_subjects s on s.subject = 'user:' || u.id
       left join customer_entitlements e on e.stripe_customer_id = u.stripe_customer_id`,
    `select stripe_customer_id as entitled_customer, to_jsonb(lookup_keys) as lookup_keys, floor(extract(epoch from summary_at))::float8 as summary_at,
       stripe_event_id, complete
     from customer_entitlements where stripe_customer_id in (${customers})`,
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
  const [, ledger, subscriptions, users, userSubscriptions, unresolved, erased, access, entitlements] = rest as Rows[];
  const byUser = new Map<number, Map<string, string>>();
  const statesByUser = new Map<number, Map<string, SubscriptionState>>();
  for (const row of userSubscriptions as unknown as SubscriptionRow[]) {
    const userId = row.user_id!;
    byUser.set(userId, (byUser.get(userId) ?? new Map<string, string>()).set(row.stripe_subscription_id, row.status));
    statesByUser.set(
      userId,
      (statesByUser.get(userId) ?? new Map<string, SubscriptionState>()).set(row.stripe_subscription_id, stateFromRow(row)),
    );
  }
  const accessRows = access as unknown as Array<
    EntitlementsRow & {
      user_id: number;
      has_row: boolean;
      has_access: boolean;
      plan_slug: string | null;
      reason: StoredAccess['reason'];
      access_until: number | null;
      entitlements: string[];
      entitlements_complete: boolean;
      last_sequence: number | null;
    }
  >;
  const wanted = subscriptions as unknown as Array<
    SubscriptionRow & { wanted_id: string; outbox_last_sequence: number | null; outbox_state: PublishedSubscription | null }
  >;
  const subscriptionRows = wanted.filter((row) => row.stripe_subscription_id !== null);
  const outboxSubjects = new Map<string, OutboxSubject>();
  for (const row of accessRows)
    if (row.last_sequence !== null) outboxSubjects.set(`user:${row.user_id}`, { lastSequence: row.last_sequence, state: null });
  for (const row of wanted) {
    if (row.outbox_last_sequence !== null)
      outboxSubjects.set(row.wanted_id, { lastSequence: row.outbox_last_sequence, state: row.outbox_state });
  }
  const customerEntitlements = new Map<string, CustomerEntitlementsState>();
  for (const row of [...accessRows, ...(entitlements as unknown as EntitlementsRow[])]) {
    if (row.entitled_customer === null) continue;
    customerEntitlements.set(row.entitled_customer, {
      customerId: row.entitled_customer,
      lookupKeys: row.lookup_keys,
      summaryAt: row.summary_at,
      eventId: row.stripe_event_id,
      complete: row.complete,
    });
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
      subscriptions: new Map(subscriptionRows.map((row) => [row.stripe_subscription_id, stateFromRow(row)])),
      users: userDirectory(
        userRows.map((u) => ({ id: u.id, email: u.email, customerId: u.stripe_customer_id, status: u.subscription_status })),
      ),
      userSubscriptions: byUser,
      unresolved: stored,
      erasedCustomers: new Set((erased as Array<{ customer: string }>).map((row) => row.customer)),
      userSubscriptionStates: statesByUser,
      access: new Map(
        accessRows
          .filter((row) => row.has_row)
          .map((row): [number, StoredAccess] => [
            row.user_id,
            {
              hasAccess: row.has_access,
              planSlug: row.plan_slug,
              reason: row.reason,
              accessUntil: row.access_until,
              entitlements: row.entitlements,
              entitlementsComplete: row.entitlements_complete,
            },
          ]),
      ),
      customerEntitlements,
      outboxSubjects,
    },
  };
}

/** A `customer_entitlements` row as the loads read it (`entitled_customer` null: none). */
interface EntitlementsRow {
  entitled_customer: string | null;
  lookup_keys: string[];
  summary_at: number;
  stripe_event_id: string;
  complete: boolean;
}

/** Only ignored events: nothing to lock or load. */
function isLedgerOnly(scope: Scope): boolean {
  return scope.subscriptionIds.length === 0 && scope.customerIds.length === 0 && scope.userIds.length === 0;
}

function idsOf(rows: Rows | undefined): Set<string> {
  return new Set((rows ?? []).map((r) => r.stripe_event_id as string));
}
