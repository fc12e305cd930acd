import type { Effects } from '../reduce-events';
import { jsonb, requireTransactionToken } from './sql-text';
import { upsertSubscriptions } from './subscription-columns';

/**
 * The second message of a batch, one round trip: the check that it runs in the batch's own
 * transaction, one multi-row statement per table, and `commit`.
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
  statements.push('commit');
  return statements.join(';\n');
}
