import type { UserHints } from './lifecycle-input';

/** A user as the worker sees it (the host application owns the table). */
export interface UserRecord {
  id: number;
  email: string;
  customerId: string | null;
  status: string | null;
}

/** The users loaded for a batch, by each route resolution takes. */
export interface UserDirectory {
  byId: Map<number, UserRecord>;
  byCustomer: Map<string, number>;
  byEmail: Map<string, number>;
}

export type ResolvedVia = 'customer' | 'subscription' | 'metadata' | 'email';

export interface Resolution {
  user: UserRecord;
  via: ResolvedVia;
}

export function userDirectory(users: Iterable<UserRecord>): UserDirectory {
  const directory: UserDirectory = { byId: new Map(), byCustomer: new Map(), byEmail: new Map() };
  for (const user of users) {
    directory.byId.set(user.id, user);
    if (user.customerId !== null) directory.byCustomer.set(user.customerId, user.id);
    directory.byEmail.set(user.email, user.id);
  }
  return directory;
}

/** A copy that can take bindings without touching the original. */
export function copyDirectory(users: UserDirectory): UserDirectory {
  return { byId: new Map(users.byId), byCustomer: new Map(users.byCustomer), byEmail: new Map(users.byEmail) };
}

/**
 * docs/design.md "User resolution", in trust order: the event's customer id matched to
 * `users.stripe_customer_id` (server-set) → the user already linked to the subscription row →
 * metadata `<prefix>user_id`, re-checked against the table → the checkout's emails. The event of
 * an erased customer (`erased`) is found only by its customer id: only the host application
 * binding it again links the person again.
 */
export function resolveUser(users: UserDirectory, hints: UserHints, linkedUserId: number | null, erased = false): Resolution | null {
  const routes: Array<[ResolvedVia, number | null | undefined]> = [
    ['customer', hints.customerId === null ? undefined : users.byCustomer.get(hints.customerId)],
    ...(erased
      ? []
      : [
          ['subscription', linkedUserId] as [ResolvedVia, number | null],
          ['metadata', hints.metadataUserId] as [ResolvedVia, number | null],
          ...hints.emails.map((email): [ResolvedVia, number | undefined] => ['email', users.byEmail.get(email)]),
        ]),
  ];
  for (const [via, id] of routes) {
    const user = id === null || id === undefined ? undefined : users.byId.get(id);
    if (user) return { user, via };
  }
  return null;
}

/**
 * docs/design.md: a user found by metadata or email gets the event's customer id bound if it has
 * none (and no other user holds it). The customer id to bind, or `undefined`. (An erased
 * customer's event is found by its customer id only, so it never binds.)
 */
export function customerToBind(users: UserDirectory, found: Resolution, customerId: string | null): string | undefined {
  if (found.via !== 'metadata' && found.via !== 'email') return undefined;
  if (customerId === null || found.user.customerId !== null || users.byCustomer.has(customerId)) return undefined;
  return customerId;
}

/** Binds the customer id to the user, in a batch's copy of the directory. */
export function bindCustomer(users: UserDirectory, userId: number, customerId: string): void {
  const user = users.byId.get(userId);
  if (!user) throw new Error(`bindCustomer: user ${userId} is not in the directory`);
  users.byId.set(userId, { ...user, customerId });
  users.byCustomer.set(customerId, userId);
}

/** What `isResolvable` reads: the users, the subscription rows' links, the erased customers. */
export interface ResolutionView {
  users: UserDirectory;
  subscriptions: ReadonlyMap<string, { userId: number | null }>;
  erasedCustomers: ReadonlySet<string>;
}

/**
 * Whether a stored `unresolved` event's user can be found now: its customer bound to a user, or —
 * unless the customer was erased — its subscription's row linked to one. Its SQL twin is the
 * sweep's query (`store/resolvable-unresolved.ts`); a test holds the two to agree.
 */
export function isResolvable(row: { customerId: string | null; subscriptionId: string | null }, view: ResolutionView): boolean {
  if (row.customerId !== null && view.users.byCustomer.has(row.customerId)) return true;
  if (row.customerId !== null && view.erasedCustomers.has(row.customerId)) return false;
  return row.subscriptionId !== null && (view.subscriptions.get(row.subscriptionId)?.userId ?? null) !== null;
}
