import type { Effects } from '../reduce-events';
import { jsonb, requireTransactionToken } from './sql-text';
import { recordFromState } from './subscription-row';

/**
 * The second message of a batch, one round trip: the check that it runs in the batch's own
 * transaction, one multi-row statement per table, and `commit`.
 */
export function writeMessage(effects: Effects, token: string): string {
  const statements = [requireTransactionToken(token)];
  if (effects.subscriptions.size > 0) {
    statements.push(`
      insert into subscriptions (stripe_subscription_id, stripe_customer_id, user_id, status, plan_slug, period, stripe_price_id,
        current_period_end, cancel_at, trial_end, status_at, status_from, snapshot_at, snapshot_status, snapshot_from, last_event_at)
      select v.id, v.customer, v.user_id, v.status, v.plan_slug, v.period, v.price,
        to_timestamp(v.current_period_end), to_timestamp(v.cancel_at), to_timestamp(v.trial_end), to_timestamp(v.status_at), v.status_from,
        to_timestamp(v.snapshot_at), v.snapshot_status, v.snapshot_from, to_timestamp(v.last_event_at)
      from jsonb_to_recordset(${jsonb([...effects.subscriptions.values()].map(recordFromState))}) as v(id text, customer text, user_id int,
        status text, plan_slug text, period text, price text, current_period_end bigint, cancel_at bigint, trial_end bigint,
        status_at bigint, status_from text, snapshot_at bigint, snapshot_status text, snapshot_from jsonb, last_event_at bigint)
      on conflict (stripe_subscription_id) do update set
        stripe_customer_id = excluded.stripe_customer_id, user_id = excluded.user_id, status = excluded.status,
        plan_slug = excluded.plan_slug, period = excluded.period, stripe_price_id = excluded.stripe_price_id,
        current_period_end = excluded.current_period_end, cancel_at = excluded.cancel_at, trial_end = excluded.trial_end,
        status_at = excluded.status_at, status_from = excluded.status_from, snapshot_at = excluded.snapshot_at,
        snapshot_status = excluded.snapshot_status, snapshot_from = excluded.snapshot_from, last_event_at = excluded.last_event_at,
        updated_at = now()`);
  }
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
  statements.push('commit');
  return statements.join(';\n');
}
