import type { Effects } from '../reduce-events';
import { jsonb, requireTransactionToken } from './sql-text';
import { upsertSubscriptions } from './subscription-columns';

/** The column the outbox statement returns the ids it wrote in (a JSON array, ascending). */
export const OUTBOX_IDS_COLUMN = 'outbox_ids';

/** The channel a batch that wrote outbox rows notifies at commit, with `{"first","last","count"}` of the ids it wrote. */
export const OUTBOX_CHANNEL = 'billing_outbox';

/**
 * The second message of a batch, one round trip: the check that it runs in the batch's own
 * transaction, one multi-row statement per table, and `commit`. The outbox rows go last: their
 * statement returns the ids written and `pg_notify`s them, delivered when the transaction commits.
 */
export function writeMessage(effects: Effects, token: string): string {
  const statements = [requireTransactionToken(token)];
  if (effects.subscriptions.size > 0) statements.push(upsertSubscriptions(effects.subscriptions.values()));
  if (effects.users.size > 0) {
    const rows = [...effects.users].map(([id, user]) => ({ id, customer: user.customerId, status: user.status }));
    statements.push(`
      update users u set stripe_customer_id = v.customer, subscription_status = v.status
      from jsonb_to_recordset(${jsonb(rows)}) as v(id int, customer text, status text) where u.id = v.id`);
  }
  if (effects.ledger.length > 0) {
    const rows = effects.ledger.map((l) => ({ id: l.eventId, outcome: l.outcome, input: l.unresolvedEvent }));
    statements.push(`
      update webhook_events w set outcome = v.outcome, unresolved_input = v.input, processed_at = now()
      from jsonb_to_recordset(${jsonb(rows)}) as v(id text, outcome text, input jsonb) where w.stripe_event_id = v.id`);
  }
  if (effects.transitions.length > 0) {
    const rows = effects.transitions.map((t) => ({
      subscription: t.subscriptionId,
      from: t.from,
      to: t.to,
      event: t.eventId,
      at: t.eventCreatedAt,
    }));
    statements.push(`
      insert into subscription_transitions (stripe_subscription_id, from_status, to_status, stripe_event_id, event_created_at)
      select v.subscription, v."from", v."to", v.event, to_timestamp(v.at)
      from jsonb_to_recordset(${jsonb(rows)}) as v(subscription text, "from" text, "to" text, event text, at bigint)`);
  }
  statements.push(...hostStatements(effects.host));
  statements.push('commit');
  return statements.join(';\n');
}

/** The host contract's tables: entitlements, access decisions, outbox sequences, then the outbox rows. */
function hostStatements(host: Effects['host']): string[] {
  const statements: string[] = [];
  if (host.entitlements.size > 0) {
    const rows = [...host.entitlements.values()].map((e) => ({
      customer: e.customerId,
      keys: e.lookupKeys,
      at: e.summaryAt,
      event: e.eventId,
      complete: e.complete,
    }));
    statements.push(`
      insert into customer_entitlements (stripe_customer_id, lookup_keys, summary_at, stripe_event_id, complete)
      select v.customer, array(select jsonb_array_elements_text(v.keys)), to_timestamp(v.at), v.event, v.complete
      from jsonb_to_recordset(${jsonb(rows)}) as v(customer text, keys jsonb, at float8, event text, complete boolean)
      on conflict (stripe_customer_id) do update set lookup_keys = excluded.lookup_keys, summary_at = excluded.summary_at,
        stripe_event_id = excluded.stripe_event_id, complete = excluded.complete, updated_at = now()`);
  }
  if (host.access.size > 0) {
    const rows = [...host.access].map(([user, a]) => ({
      user,
      has: a.hasAccess,
      plan: a.planSlug,
      reason: a.reason,
      until: a.accessUntil,
      keys: a.entitlements,
      complete: a.entitlementsComplete,
    }));
    statements.push(`
      insert into billing_access (user_id, has_access, plan_slug, reason, access_until, entitlements, entitlements_complete)
      select v.user, v.has, v.plan, v.reason, to_timestamp(v.until), array(select jsonb_array_elements_text(v.keys)), v.complete
      from jsonb_to_recordset(${jsonb(rows)}) as v("user" int, has boolean, plan text, reason text, until float8, keys jsonb, complete boolean)
      on conflict (user_id) do update set has_access = excluded.has_access, plan_slug = excluded.plan_slug, reason = excluded.reason,
        access_until = excluded.access_until, entitlements = excluded.entitlements, entitlements_complete = excluded.entitlements_complete,
        updated_at = now()`);
  }
  if (host.subjects.size > 0) {
    const rows = [...host.subjects].map(([subject, s]) => ({ subject, last: s.lastSequence, state: s.state }));
    statements.push(`
      insert into billing_outbox_subjects (subject, last_sequence, state)
      select v.subject, v.last, v.state from jsonb_to_recordset(${jsonb(rows)}) as v(subject text, last int, state jsonb)
      on conflict (subject) do update set last_sequence = excluded.last_sequence, state = excluded.state`);
  }
  if (host.outbox.length > 0) {
    const rows = host.outbox.map((o) => ({
      type: o.type,
      subject: o.subject,
      sequence: o.sequence,
      user: o.userId,
      subscription: o.subscriptionId,
      customer: o.customerId,
      data: o.data,
      events: o.eventIds,
      at: o.occurredAt,
    }));
    // In the order the changes happened (ids ascending with each subject's sequence); the
    // notification is delivered at commit, never for a batch that rolled back.
    statements.push(`
      with written as (
        insert into billing_outbox (type, subject, sequence, user_id, stripe_subscription_id, stripe_customer_id, data, stripe_event_ids, occurred_at)
        select v.type, v.subject, v.sequence, v."user", v.subscription, v.customer, v.data, array(select jsonb_array_elements_text(v.events)), to_timestamp(v.at)
        from rows from (jsonb_to_recordset(${jsonb(rows)}) as (type text, subject text, sequence int, "user" int, subscription text,
          customer text, data jsonb, events jsonb, at float8)) with ordinality as v(type, subject, sequence, "user", subscription, customer, data, events, at, position)
        order by v.position
        returning id
      )
      select to_jsonb(array_agg(id order by id)) as ${OUTBOX_IDS_COLUMN},
        pg_notify('${OUTBOX_CHANNEL}', json_build_object('first', min(id), 'last', max(id), 'count', count(*))::text)::text as notified
      from written`);
  }
  return statements;
}

/** The outbox ids the write message's results name (none when it wrote no outbox row). */
export function outboxIdsOf(results: unknown): number[] {
  const sets = Array.isArray(results) && results.every(Array.isArray) ? results : [results];
  for (const set of sets as Array<Array<Record<string, unknown>>>) {
    for (const row of Array.isArray(set) ? set : []) {
      const ids = row[OUTBOX_IDS_COLUMN];
      if (Array.isArray(ids)) return ids.map(Number);
    }
  }
  return [];
}
