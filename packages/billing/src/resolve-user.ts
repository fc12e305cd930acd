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

export function userDirectory(users: Iterable<UserRecord>): UserDirectory {
  const directory: UserDirectory = { byId: new Map(), byCustomer: new Map(), byEmail: new Map() };
  for (const user of users) {
    directory.byId.set(user.id, user);
    if (user.customerId !== null) directory.byCustomer.set(user.customerId, user.id);
    directory.byEmail.set(user.email, user.id);
  }
  return directory;
}

/**
 * docs/design.md "User resolution", in trust order: the event's customer id matched to
 * `users.stripe_customer_id` (server-set) → the user already linked to the subscription row →
 * metadata `<prefix>user_id`, re-checked against the table → the checkout's emails. The event of
 * an erased customer (`erased`) is found only by its customer id: only the host application
 * binding it again links the person again.
 */
export function resolveUser(
  users: UserDirectory,
  hints: UserHints,
  linkedUserId: number | null,
  erased = false,
): { user: UserRecord; via: ResolvedVia } | null {
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
