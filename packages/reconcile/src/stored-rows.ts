import type { Sql } from '@billing/db/client';
import type { StoredSubscription, StoredUser } from './drift';

interface Row {
  stripe_subscription_id: string;
  stripe_customer_id: string | null;
  user_id: number | null;
  status: string;
  current_period_end: number | null;
  stripe_price_id: string | null;
  plan_slug: string;
  period: string;
  cancel_at: number | null;
  trial_end: number | null;
  last_event_at: number | null;
}

const COLUMNS = `stripe_subscription_id, stripe_customer_id, user_id, status, stripe_price_id, plan_slug, period,
  extract(epoch from current_period_end)::float8 as current_period_end, extract(epoch from cancel_at)::float8 as cancel_at,
  extract(epoch from trial_end)::float8 as trial_end, extract(epoch from last_event_at)::float8 as last_event_at`;

function stored(row: Row): StoredSubscription {
  return {
    subscriptionId: row.stripe_subscription_id,
    customerId: row.stripe_customer_id,
    userId: row.user_id,
    status: row.status,
    currentPeriodEnd: row.current_period_end,
    priceId: row.stripe_price_id,
    planSlug: row.plan_slug,
    period: row.period === 'yearly' ? 'yearly' : 'monthly',
    cancelAt: row.cancel_at,
    trialEnd: row.trial_end,
    lastEventAt: row.last_event_at,
  };
}

/** Our rows of these subscription ids, by id. */
export async function storedSubscriptions(sql: Sql, ids: readonly string[]): Promise<Map<string, StoredSubscription>> {
  if (ids.length === 0) return new Map();
  const rows = await sql.unsafe<Row[]>(`select ${COLUMNS} from subscriptions where stripe_subscription_id = any($1)`, [ids as string[]]);
  return new Map(rows.map((r) => [r.stripe_subscription_id, stored(r)]));
}

/** The rows in scope (one customer's, or all) that the run has not listed from Stripe yet, in id order, `limit` at a time after `after`. */
export async function unlistedSubscriptionIds(
  sql: Sql,
  runId: number,
  customer: string | undefined,
  after: string,
  limit: number,
): Promise<string[]> {
  const rows = await sql.unsafe<Array<{ id: string }>>(
    `select s.stripe_subscription_id as id from subscriptions s
     where s.stripe_subscription_id > $1 and ($2::text is null or s.stripe_customer_id = $2)
       and not exists (select 1 from reconcile_run_subscriptions r where r.run_id = $3 and r.stripe_subscription_id = s.stripe_subscription_id)
     order by s.stripe_subscription_id limit $4`,
    [after, customer ?? null, runId, limit],
  );
  return rows.map((r) => r.id);
}

/** The users with subscriptions in scope (one customer's, or all), and every row of theirs. */
export async function storedUsers(
  sql: Sql,
  customer: string | undefined,
): Promise<{ users: StoredUser[]; rows: Map<string, StoredSubscription> }> {
  const users = await sql.unsafe<Array<{ id: number; stripe_customer_id: string | null; subscription_status: string | null }>>(
    `select u.id, u.stripe_customer_id, u.subscription_status from users u
     where exists (select 1 from subscriptions s where s.user_id = u.id and ($1::text is null or s.stripe_customer_id = $1))
        or ($1::text is not null and u.stripe_customer_id = $1)
     order by u.id`,
    [customer ?? null],
  );
  const ids = users.map((u) => u.id);
  const rows = ids.length === 0 ? [] : await sql.unsafe<Row[]>(`select ${COLUMNS} from subscriptions where user_id = any($1)`, [ids]);
  return {
    users: users.map((u) => ({ userId: u.id, customerId: u.stripe_customer_id, status: u.subscription_status })),
    rows: new Map(rows.map((r) => [r.stripe_subscription_id, stored(r)])),
  };
}
