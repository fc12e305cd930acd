import { describe, expect, it } from 'vitest';
import type { UserHints } from './lifecycle-input';
import { customerToBind, isResolvable, resolveUser, userDirectory, type ResolutionView } from './resolve-user';

/** docs/design.md "User resolution", route by route, and the erased customer's one route. */

const users = userDirectory([
  { id: 1, email: 'bound@example.com', customerId: 'cus_bound', status: null },
  { id: 2, email: 'free@example.com', customerId: null, status: null },
  { id: 3, email: 'linked@example.com', customerId: null, status: null },
]);
const hints = (fields: Partial<UserHints>): UserHints => ({ customerId: null, metadataUserId: null, emails: [], ...fields });

describe('resolveUser', () => {
  it.each<[string, Partial<UserHints>, number | null, boolean, [number, string] | null]>([
    [
      'the customer id wins over everything',
      { customerId: 'cus_bound', metadataUserId: 2, emails: ['free@example.com'] },
      3,
      false,
      [1, 'customer'],
    ],
    ['then the subscription’s linked user', { customerId: 'cus_new', metadataUserId: 2 }, 3, false, [3, 'subscription']],
    [
      'then the metadata user id, re-checked',
      { customerId: 'cus_new', metadataUserId: 2, emails: ['linked@example.com'] },
      null,
      false,
      [2, 'metadata'],
    ],
    [
      'a metadata id naming nobody falls through to the emails',
      { metadataUserId: 99, emails: ['nobody@x.test', 'linked@example.com'] },
      null,
      false,
      [3, 'email'],
    ],
    ['nothing found', { customerId: 'cus_new', emails: ['nobody@x.test'] }, null, false, null],
    [
      'erased: the customer id route still finds a user the host bound again',
      { customerId: 'cus_bound', metadataUserId: 2 },
      3,
      true,
      [1, 'customer'],
    ],
    [
      'erased: not the subscription’s link, the metadata or the emails',
      { customerId: 'cus_gone', metadataUserId: 2, emails: ['free@example.com'] },
      3,
      true,
      null,
    ],
  ])('%s', (_name, given, linked, erased, expected) => {
    const found = resolveUser(users, hints(given), linked, erased);
    expect(found && [found.user.id, found.via]).toEqual(expected);
  });
});

describe('customerToBind', () => {
  it.each<[string, Partial<UserHints>, string | undefined]>([
    ['found by metadata, no customer yet: binds', { customerId: 'cus_new', metadataUserId: 2 }, 'cus_new'],
    ['found by email: binds', { customerId: 'cus_new', emails: ['free@example.com'] }, 'cus_new'],
    ['a customer another user holds: no', { customerId: 'cus_bound', metadataUserId: 2 }, undefined],
    ['found by the subscription’s link: no', { customerId: 'cus_new' }, undefined],
    ['the user has a customer already: no', { customerId: 'cus_new', emails: ['bound@example.com'] }, undefined],
  ])('%s', (_name, given, expected) => {
    const found = resolveUser(users, hints(given), given.metadataUserId || given.emails ? null : 3)!;
    expect(customerToBind(users, found, given.customerId ?? null)).toBe(expected);
  });
});

describe('isResolvable', () => {
  const view = (erased: string[] = []): ResolutionView => ({
    users,
    subscriptions: new Map([
      ['sub_linked', { userId: 3 }],
      ['sub_free', { userId: null }],
    ]),
    erasedCustomers: new Set(erased),
  });
  it.each<[string, { customerId: string | null; subscriptionId: string | null }, string[], boolean]>([
    ['its customer bound to a user', { customerId: 'cus_bound', subscriptionId: null }, [], true],
    ['its subscription linked to a user', { customerId: 'cus_new', subscriptionId: 'sub_linked' }, [], true],
    ['neither', { customerId: 'cus_new', subscriptionId: 'sub_free' }, [], false],
    ['erased: the subscription’s link is not enough', { customerId: 'cus_new', subscriptionId: 'sub_linked' }, ['cus_new'], false],
    ['erased, bound again by the host', { customerId: 'cus_bound', subscriptionId: 'sub_free' }, ['cus_bound'], true],
    ['no customer, a linked subscription', { customerId: null, subscriptionId: 'sub_linked' }, [], true],
  ])('%s → %s', (_name, row, erased, expected) => {
    expect(isResolvable(row, view(erased))).toBe(expected);
  });
});
