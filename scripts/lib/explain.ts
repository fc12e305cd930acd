import {
  accessDecision,
  DEFAULT_ACCESS_POLICY,
  mostFavourable,
  stateFromRow,
  SUBSCRIPTION_SELECT,
  type AccessDecision,
  type AccessPolicy,
  type SubscriptionGrant,
  type SubscriptionRow,
} from '@billing/billing';
import type { Database } from '@billing/db/client';
import {
  billingAccess,
  billingOutbox,
  customerEntitlements,
  subscriptions,
  subscriptionTransitions,
  users,
  webhookEvents,
  type BillingAccessRow,
  type BillingOutboxRow,
  type CustomerEntitlements,
  type Subscription,
  type User,
} from '@billing/db/schema';
import type { EventQueue } from '@billing/queue';
import { and, asc, desc, eq, inArray, isNotNull, or, sql } from 'drizzle-orm';
import { formatTable } from './table';
import { UsageError } from './usage-error';

export const EXPLAIN_USAGE = `usage: npm run explain -- <sub_…|cus_…|evt_…|email>

Read-only. Prints what support needs to answer "why was this customer cut off?": the
subscription rows, the user and the status derived from all of their subscriptions, the
access decision (billing_access) and the rule behind it, taken again now for each subscription
under the policy (ACCESS_PAST_DUE_GRACE_DAYS), the customer's entitlements, the last rows the
host application was told (billing_outbox), the ledger rows in Stripe's created order with their
outcomes, the status transitions, and the state of each event's job in the queue (completed, failed
with its reason, gone).`;

/** The outbox rows shown, at most (the newest). */
const OUTBOX_ROWS = 20;

export interface ExplainOptions {
  /** The access policy the decision is taken again under. @defaultValue DEFAULT_ACCESS_POLICY */
  policy?: AccessPolicy;
  /** Unix seconds. @defaultValue now */
  now?: number;
}

export interface AccessExplanation {
  /** The stored decision (`billing_access`), as the host reads it. */
  stored: BillingAccessRow | undefined;
  /** The decision taken again at `at` from all of the user's subscriptions, and each one's rule. */
  now: AccessDecision & { grants: SubscriptionGrant[] };
  at: Date;
  policy: AccessPolicy;
  /** The user's customer's newest entitlements summary. */
  entitlements: CustomerEntitlements | undefined;
}

export interface Explanation {
  subject: string;
  user: User | undefined;
  /** The user's status as derived from all of their subscriptions now (docs/design.md "The user's status"). */
  derivedStatus: string | null;
  subscriptions: Subscription[];
  ledger: Array<{
    eventId: string;
    type: string;
    created: Date | null;
    outcome: string;
    subscription: string | null;
    /** The API version the event was rendered in (a thin event's: its object's, as fetched); null before it was recorded. */
    apiVersion: string | null;
    job: string;
  }>;
  transitions: Array<{ subscription: string; from: string | null; to: string; eventId: string; eventCreatedAt: Date }>;
  /** Only with a user. */
  access: AccessExplanation | undefined;
  /** The newest rows of the user's and the subscriptions' outbox subjects, oldest first. */
  outbox: BillingOutboxRow[];
}

/** What `subject` names: a subscription, a customer, an event or a user's email. */
export async function explain(db: Database, queue: EventQueue, subject: string, options: ExplainOptions = {}): Promise<Explanation> {
  const key = subject.trim();
  if (!/^(sub_|cus_|evt_)\w+$/.test(key) && !key.includes('@'))
    throw new UsageError(`${JSON.stringify(subject)} is neither a sub_…, cus_…, evt_… id nor an email`);

  // 1. The subscriptions and the customer in question.
  let subscriptionIds: string[] = [];
  let customerIds: string[] = [];
  let user: User | undefined;
  if (key.startsWith('sub_')) subscriptionIds = [key];
  else if (key.startsWith('cus_')) customerIds = [key];
  else if (key.startsWith('evt_')) {
    const [row] = await db.select().from(webhookEvents).where(eq(webhookEvents.stripeEventId, key));
    if (!row) throw new UsageError(`no event ${key} in the ledger (the worker has not processed it)`);
    if (row.stripeSubscriptionId) subscriptionIds = [row.stripeSubscriptionId];
    if (row.stripeCustomerId) customerIds = [row.stripeCustomerId];
  } else {
    [user] = await db.select().from(users).where(eq(users.email, key.toLowerCase()));
    if (!user) throw new UsageError(`no user with the email ${key}`);
    if (user.stripeCustomerId) customerIds = [user.stripeCustomerId];
  }
  const subscriptionRows = await db
    .select()
    .from(subscriptions)
    .where(
      or(
        subscriptionIds.length > 0 ? inArray(subscriptions.stripeSubscriptionId, subscriptionIds) : undefined,
        customerIds.length > 0 ? inArray(subscriptions.stripeCustomerId, customerIds) : undefined,
        user ? eq(subscriptions.userId, user.id) : undefined,
        sql`false`,
      ),
    )
    .orderBy(asc(subscriptions.id));
  subscriptionIds = [...new Set([...subscriptionIds, ...subscriptionRows.map((s) => s.stripeSubscriptionId)])];
  customerIds = [...new Set([...customerIds, ...subscriptionRows.flatMap((s) => (s.stripeCustomerId ? [s.stripeCustomerId] : []))])];

  // 2. The user and their status derived from all of their subscriptions.
  const userId = user?.id ?? subscriptionRows.find((s) => s.userId !== null)?.userId ?? null;
  if (!user && userId !== null) [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user && customerIds.length > 0) [user] = await db.select().from(users).where(inArray(users.stripeCustomerId, customerIds));
  const all = user ? await db.select({ status: subscriptions.status }).from(subscriptions).where(eq(subscriptions.userId, user.id)) : [];

  // 3. The ledger in Stripe's order, each event's job, and the transitions.
  const ledgerRows = await db
    .select()
    .from(webhookEvents)
    .where(
      or(
        subscriptionIds.length > 0 ? inArray(webhookEvents.stripeSubscriptionId, subscriptionIds) : undefined,
        customerIds.length > 0
          ? and(inArray(webhookEvents.stripeCustomerId, customerIds), isNotNull(webhookEvents.stripeCustomerId))
          : undefined,
        sql`false`,
      ),
    )
    .orderBy(sql`${webhookEvents.eventCreatedAt} asc nulls first`, asc(webhookEvents.id));
  const ledger = [];
  for (const row of ledgerRows) {
    ledger.push({
      eventId: row.stripeEventId,
      type: row.eventType,
      created: row.eventCreatedAt,
      outcome: row.outcome,
      subscription: row.stripeSubscriptionId,
      apiVersion: row.apiVersion,
      job: await jobState(queue, row.stripeEventId),
    });
  }
  const transitions =
    subscriptionIds.length === 0
      ? []
      : await db
          .select()
          .from(subscriptionTransitions)
          .where(inArray(subscriptionTransitions.stripeSubscriptionId, subscriptionIds))
          .orderBy(asc(subscriptionTransitions.eventCreatedAt), asc(subscriptionTransitions.id));

  // 4. The access decision and the rule behind it, and what the host was told.
  const access = user ? await explainAccess(db, user, options) : undefined;
  const subjects = [...subscriptionIds, ...(user ? [`user:${user.id}`] : [])];
  const outbox =
    subjects.length === 0
      ? []
      : (
          await db
            .select()
            .from(billingOutbox)
            .where(inArray(billingOutbox.subject, subjects))
            .orderBy(desc(billingOutbox.id))
            .limit(OUTBOX_ROWS)
        ).reverse();
  return {
    subject: key,
    user,
    access,
    outbox,
    derivedStatus: mostFavourable(all.map((s) => s.status)),
    subscriptions: subscriptionRows,
    ledger,
    transitions: transitions.map((t) => ({
      subscription: t.stripeSubscriptionId,
      from: t.fromStatus,
      to: t.toStatus,
      eventId: t.stripeEventId,
      eventCreatedAt: t.eventCreatedAt,
    })),
  };
}

async function explainAccess(db: Database, user: User, options: ExplainOptions): Promise<AccessExplanation> {
  const policy = options.policy ?? DEFAULT_ACCESS_POLICY;
  const at = options.now ?? Math.floor(Date.now() / 1000);
  const rows = (await db.execute(
    sql.raw(`select ${SUBSCRIPTION_SELECT} from subscriptions where user_id = ${Number(user.id)} order by id`),
  )) as unknown as SubscriptionRow[];
  const [stored] = await db.select().from(billingAccess).where(eq(billingAccess.userId, user.id));
  const [entitlements] = user.stripeCustomerId
    ? await db.select().from(customerEntitlements).where(eq(customerEntitlements.stripeCustomerId, user.stripeCustomerId))
    : [];
  return { stored, now: accessDecision(rows.map(stateFromRow), at, policy), at: new Date(at * 1000), policy, entitlements };
}

async function jobState(queue: EventQueue, eventId: string): Promise<string> {
  const job = await queue.getJob(eventId);
  if (!job) return 'gone (left the queue)';
  const state = await job.getState();
  return state === 'failed' ? `failed: ${job.failedReason ?? 'no reason'} (attempts ${job.attemptsMade})` : state;
}

export function formatExplanation(e: Explanation): string {
  const user = e.user;
  const lines = [
    `explain ${e.subject}`,
    '',
    user
      ? `user ${user.id} ${user.email}, customer ${user.stripeCustomerId ?? '—'}: status ${user.subscriptionStatus ?? '—'}` +
        (user.subscriptionStatus === e.derivedStatus
          ? ' (= derived from all of their subscriptions)'
          : ` — derived from all of their subscriptions: ${e.derivedStatus ?? '—'} (differs!)`)
      : 'user: none found (events of an unknown customer stay unresolved until one is)',
    '',
    formatTable(
      'subscriptions',
      e.subscriptions.map((s) => ({
        subscription: s.stripeSubscriptionId,
        user_id: s.userId,
        status: s.status,
        plan: `${s.planSlug}/${s.period}`,
        price: s.stripePriceId,
        current_period_end: s.currentPeriodEnd,
        cancel_at: s.cancelAt,
        trial_end: s.trialEnd,
        status_since: s.statusAt,
        last_snapshot: s.snapshotAt,
      })),
    ),
    '',
    ...(e.access ? [formatAccess(e.access), ''] : []),
    formatTable(
      'ledger, in Stripe’s created order',
      e.ledger.map((l) => ({
        created: l.created,
        event: l.eventId,
        type: l.type,
        outcome: l.outcome,
        subscription: l.subscription,
        api_version: l.apiVersion,
        job: l.job,
      })),
    ),
    '',
    formatTable(
      'transitions',
      e.transitions.map((t) => ({ at: t.eventCreatedAt, subscription: t.subscription, from: t.from, to: t.to, event: t.eventId })),
    ),
    '',
    formatTable(
      `told the host (billing_outbox, the newest ${OUTBOX_ROWS})`,
      e.outbox.map((o) => ({
        id: o.id,
        occurred_at: o.occurredAt,
        subject: o.subject,
        sequence: o.sequence,
        type: o.type,
        changes: JSON.stringify((o.data as { changes?: unknown }).changes ?? {}),
        events: o.stripeEventIds.length > 0 ? o.stripeEventIds.join(' ') : 'the clock',
        delivered: o.deliveredAt,
      })),
    ),
    '',
    'outcomes: applied = took effect; stale = older than what the row already had (only filled what it lacked); ignored = no effect (unhandled type, or a terminal subscription); unresolved = no user found yet, applied once one is.',
  ];
  return lines.join('\n');
}

function formatAccess(a: AccessExplanation): string {
  const describe = (d: { hasAccess: boolean; planSlug: string | null; reason: string; accessUntil: Date | number | null }) => {
    const until =
      d.accessUntil === null
        ? ''
        : `, until ${new Date(typeof d.accessUntil === 'number' ? d.accessUntil * 1000 : d.accessUntil).toISOString()}`;
    return d.hasAccess ? `granted (plan ${d.planSlug ?? '—'}, ${d.reason}${until})` : 'none';
  };
  const stored = a.stored ? describe(a.stored) : 'no decision stored yet';
  const now = describe(a.now);
  const same = a.stored !== undefined && stored === now;
  const graceDays = a.policy.pastDueGraceSeconds / 86_400;
  const entitlements = a.entitlements
    ? `${a.entitlements.lookupKeys.join(', ') || '(none)'}${a.entitlements.complete ? '' : ' — INCOMPLETE: the summary said has_more and the rest was not fetched (STRIPE_SECRET_KEY)'} (summary of ${a.entitlements.stripeEventId} at ${a.entitlements.summaryAt.toISOString()})`
    : '(no summary)';
  return [
    `access (billing_access): ${stored}`,
    `  taken again at ${a.at.toISOString()} under the policy (past_due grace ${graceDays} day${graceDays === 1 ? '' : 's'}): ${now}` +
      (same ? ' (= stored)' : a.stored ? ' (differs: the access clock or the next event of this user writes it)' : ''),
    ...a.now.grants.map((g) => `  ${g.subscriptionId === a.now.subscriptionId ? '→' : ' '} ${g.subscriptionId}: ${g.rule}`),
    `  entitlements: ${entitlements}`,
  ].join('\n');
}
