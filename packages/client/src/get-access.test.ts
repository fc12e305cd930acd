import type { Sql } from 'postgres';
import { describe, expect, it } from 'vitest';
import { getAccess, NO_ACCESS } from './get-access';

/** A stand-in for postgres-js: records the query and its values, answers `rows`. */
function fakeSql(rows: unknown[]): { sql: Sql; queries: Array<{ text: string; values: unknown[] }> } {
  const queries: Array<{ text: string; values: unknown[] }> = [];
  const sql = ((strings: TemplateStringsArray, ...values: unknown[]) => {
    queries.push({ text: strings.join('$'), values });
    return Promise.resolve(rows);
  }) as unknown as Sql;
  return { sql, queries };
}

describe('getAccess', () => {
  it('reads the user’s row of billing_access', async () => {
    const { sql, queries } = fakeSql([
      {
        has_access: true,
        plan_slug: 'pro',
        reason: 'past_due_grace',
        access_until: '2026-12-14T05:00:00.000Z',
        entitlements: ['api', 'export'],
        entitlements_complete: true,
      },
    ]);
    expect(await getAccess(sql, 7)).toEqual({
      hasAccess: true,
      planSlug: 'pro',
      reason: 'past_due_grace',
      accessUntil: new Date('2026-12-14T05:00:00.000Z'),
      entitlements: ['api', 'export'],
      entitlementsComplete: true,
    });
    expect(queries).toHaveLength(1);
    expect(queries[0]!.text).toMatch(/from billing_access where user_id = \$/);
    expect(queries[0]!.values).toEqual([7]);
  });

  it('no row (never subscribed): no access', async () => {
    expect(await getAccess(fakeSql([]).sql, 8)).toEqual(NO_ACCESS);
  });

  it('refuses a user id that is not an integer', async () => {
    await expect(getAccess(fakeSql([]).sql, Number.NaN)).rejects.toThrow(/userId must be an integer/);
  });
});
