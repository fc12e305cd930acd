import { accessDecision, type AccessPolicy } from './access-policy';
import type { BatchDraft } from './batch-draft';
import type { CustomerEntitlementsState } from './entitlements';
import type { Seconds } from './lifecycle-input';
import type { SubscriptionState } from './lifecycle';
import {
  NOTHING_TOLD,
  publishedOf,
  subscriptionChanges,
  subscriptionData,
  userChanges,
  userData,
  userPublished,
  type PublishedSubscription,
  type PublishedUser,
  type UserAccess,
} from './outbox-changes';
import type { World } from './reduce-events';
import type { OutboxType } from '@billing/db/schema';

/**
 * The host application contract's share of a batch (docs/design.md "Host application contract"):
 * the outbox rows, each user's access decision, each customer's entitlements — derived step by step
 * from what the batch's events did (`BatchDraft.steps`), in the order they were applied, so that
 * how events are grouped into batches changes nothing the host is told. Pure.
 */

/** One outbox row as written (`billing_outbox`). */
export interface OutboxEntry {
  type: OutboxType;
  /** `sub_…` or `user:<id>`. */
  subject: string;
  /** The subject's next sequence (from 1; after the last one `billing_outbox_subjects` kept). */
  sequence: number;
  userId: number | null;
  subscriptionId: string | null;
  customerId: string | null;
  /** The state after the change, and `changes`: field → [from, to]. */
  data: Record<string, unknown>;
  /** The event whose step made the change; none for the clock. */
  eventIds: string[];
  /** That event's `created`; for the clock, the time it decided. */
  occurredAt: Seconds;
}

/** A user's `billing_access` row as stored. */
export type StoredAccess = Omit<UserAccess, 'customerId' | 'subscriptionId'>;

/** A subject's row of `billing_outbox_subjects`. */
export interface OutboxSubject {
  lastSequence: number;
  /** A subscription's fields as told so far; null for a user. */
  state: PublishedSubscription | null;
}

export interface HostOptions {
  /** The time the access decisions are taken at (Unix seconds). */
  now: Seconds;
  policy: AccessPolicy;
  /** Users whose decision the clock takes again (their access may have ended by the time alone). */
  clockUsers?: readonly number[];
}

export interface HostEffects {
  /** In the order the changes happened; each subject's sequences consecutive. */
  outbox: OutboxEntry[];
  /** `billing_access` rows to write: decisions that differ from the stored row, or have none. */
  access: Map<number, UserAccess>;
  /** `customer_entitlements` rows to write. */
  entitlements: Map<string, CustomerEntitlementsState>;
  /** `billing_outbox_subjects` rows to write: each subject given rows. */
  subjects: Map<string, OutboxSubject>;
}

export const userSubject = (userId: number) => `user:${userId}`;

/**
 * 1. every subscription step that changed a row: its rows, from what the subscription's rows told
 *    so far (`billing_outbox_subjects.state`; for a row from before the outbox, the row as loaded);
 * 2. after each applied step that changed one of a user's subscriptions, bound a customer to them or
 *    replaced their customer's entitlements: the user's decision at `now`, and its rows from what
 *    the user was told (`billing_access`); a stale or ignored event takes no decision again;
 * 3. the clock's users, once more, with no event;
 * 4. the sequences, per subject, after the last one kept.
 */
export function hostEffects(world: World, draft: BatchDraft, options: HostOptions): HostEffects {
  const { now, policy } = options;
  const states = new Map<string, SubscriptionState>();
  for (const rows of world.userSubscriptionStates?.values() ?? []) for (const [id, state] of rows) states.set(id, state);
  for (const [id, state] of world.subscriptions) states.set(id, state);
  const customerOf = new Map<number, string | null>([...world.users.byId].map(([id, user]) => [id, user.customerId]));
  const entitlements = new Map(world.customerEntitlements ?? []);
  const toldSubscriptions = new Map<string, PublishedSubscription | null>();
  const toldUsers = new Map<number, PublishedUser>();
  const decided = new Map<number, UserAccess>();
  const changes: Array<Omit<OutboxEntry, 'sequence'>> = [];

  const toldSubscription = (id: string): PublishedSubscription | null => {
    if (toldSubscriptions.has(id)) return toldSubscriptions.get(id)!;
    const kept = world.outboxSubjects?.get(id)?.state;
    if (kept) return kept;
    const loaded = world.subscriptions.get(id);
    return loaded ? publishedOf(loaded) : null;
  };
  const toldUser = (userId: number): PublishedUser => {
    const told = toldUsers.get(userId);
    if (told) return told;
    const stored = world.access?.get(userId);
    return stored ? userPublished(stored) : NOTHING_TOLD;
  };
  const decide = (userId: number, cause: { eventIds: string[]; at: Seconds }) => {
    if (!customerOf.has(userId)) return;
    const customerId = customerOf.get(userId) ?? null;
    const summary = customerId === null ? undefined : entitlements.get(customerId);
    const { grants: _grants, ...decision } = accessDecision(
      [...states.values()].filter((s) => s.userId === userId),
      now,
      policy,
    );
    const access: UserAccess = {
      ...decision,
      customerId,
      entitlements: summary?.lookupKeys ?? [],
      entitlementsComplete: summary?.complete ?? true,
    };
    const told = userPublished(access);
    for (const row of userChanges(toldUser(userId), told)) {
      changes.push({
        type: row.type,
        subject: userSubject(userId),
        userId,
        subscriptionId: null,
        customerId,
        data: userData(userId, access, row.changes),
        eventIds: cause.eventIds,
        occurredAt: cause.at,
      });
    }
    toldUsers.set(userId, told);
    decided.set(userId, access);
  };

  for (const step of draft.steps) {
    const cause = { eventIds: [step.eventId], at: step.created };
    if (step.kind === 'subscription') {
      const { state } = step;
      if (step.changed) {
        const id = state.subscriptionId;
        states.set(id, state);
        const { rows, published } = subscriptionChanges(toldSubscription(id), publishedOf(state));
        toldSubscriptions.set(id, published);
        for (const row of rows) {
          changes.push({
            type: row.type,
            subject: id,
            userId: state.userId,
            subscriptionId: id,
            customerId: state.customerId,
            data: subscriptionData(state, row.changes),
            eventIds: cause.eventIds,
            occurredAt: cause.at,
          });
        }
      }
      if (step.bound !== undefined && step.boundTo !== undefined) customerOf.set(step.boundTo, step.bound);
      if (step.outcome !== 'applied') continue;
      if (step.changed || step.bound !== undefined) decide(step.userId, cause);
      if (step.boundTo !== undefined && step.boundTo !== step.userId) decide(step.boundTo, cause);
    } else if (step.state) {
      entitlements.set(step.customerId, step.state);
      for (const [userId, customerId] of customerOf) if (customerId === step.customerId) decide(userId, cause);
    }
  }
  for (const userId of options.clockUsers ?? []) decide(userId, { eventIds: [], at: now });

  const last = new Map<string, number>();
  const outbox = changes.map((change): OutboxEntry => {
    const sequence = (last.get(change.subject) ?? world.outboxSubjects?.get(change.subject)?.lastSequence ?? 0) + 1;
    last.set(change.subject, sequence);
    return { ...change, sequence };
  });
  const subjects = new Map(
    [...last].map(([subject, lastSequence]): [string, OutboxSubject] => [
      subject,
      { lastSequence, state: subject.startsWith('user:') ? null : (toldSubscriptions.get(subject) ?? null) },
    ]),
  );
  const access = new Map([...decided].filter(([userId, decision]) => !sameAccess(world.access?.get(userId), decision)));
  return { outbox, access, entitlements: new Map([...draft.changedEntitlements].map(([id, c]) => [id, c.after])), subjects };
}

function sameAccess(stored: StoredAccess | undefined, access: UserAccess): boolean {
  return (
    stored !== undefined &&
    stored.hasAccess === access.hasAccess &&
    stored.planSlug === access.planSlug &&
    stored.reason === access.reason &&
    stored.accessUntil === access.accessUntil &&
    stored.entitlementsComplete === access.entitlementsComplete &&
    stored.entitlements.join('\u0000') === access.entitlements.join('\u0000')
  );
}
