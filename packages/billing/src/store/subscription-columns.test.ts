import { getTableColumns } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { subscriptions } from '@billing/db/schema';
import type { SubscriptionState } from '../lifecycle';
import {
  rowOf,
  stateFromRow,
  SUBSCRIPTION_COLUMNS,
  SUBSCRIPTION_KEY,
  SUBSCRIPTION_SELECT,
  upsertSubscriptions,
} from './subscription-columns';

/** The rules' column list against the Drizzle schema (packages/db/src/schema.ts), the source of truth of the table. */

const table = Object.values(getTableColumns(subscriptions));
const DRIZZLE_TYPE = { text: 'PgText', integer: 'PgInteger', time: 'PgTimestamp', jsonb: 'PgJsonb' } as const;
/** Columns the rules leave to Postgres: the serial key and the row's own times (`updated_at` is set by the upsert). */
const LEFT_TO_POSTGRES = ['id', 'created_at', 'updated_at'];

describe('SUBSCRIPTION_COLUMNS', () => {
  it.each(Object.entries(SUBSCRIPTION_COLUMNS))('%s is a column of subscriptions of the same type and nullability', (name, spec) => {
    const column = table.find((c) => c.name === name);
    expect(column, `${name} is not in packages/db/src/schema.ts`).toBeDefined();
    expect(column!.columnType).toBe(DRIZZLE_TYPE[spec.kind]);
    if (spec.kind === 'time') expect((column as unknown as { withTimezone: boolean }).withTimezone).toBe(true);
    expect(column!.notNull).toBe(!spec.nullable);
  });

  it('names every column of subscriptions but those Postgres fills', () => {
    const named = Object.keys(SUBSCRIPTION_COLUMNS);
    expect(table.map((c) => c.name).filter((c) => !named.includes(c))).toEqual(LEFT_TO_POSTGRES);
  });

  it('the upsert inserts every column and sets every one but the key; the select reads every one', () => {
    const statement = upsertSubscriptions([]);
    for (const name of Object.keys(SUBSCRIPTION_COLUMNS)) {
      expect(statement).toContain(
        `${name} ${{ text: 'text', integer: 'int', time: 'bigint', jsonb: 'jsonb' }[SUBSCRIPTION_COLUMNS[name as keyof typeof SUBSCRIPTION_COLUMNS].kind]}`,
      );
      if (name !== SUBSCRIPTION_KEY) expect(statement).toContain(`${name} = excluded.${name}`);
      expect(SUBSCRIPTION_SELECT).toMatch(new RegExp(`(^|, )(${name}|floor\\(extract\\(epoch from ${name}\\)\\)::float8 as ${name})(,|$)`));
    }
    expect(statement).not.toContain(`${SUBSCRIPTION_KEY} = excluded`);
    expect(statement).toContain('updated_at = now()');
  });

  it('a state survives the row both ways', () => {
    const state: SubscriptionState = {
      subscriptionId: 'sub_1',
      customerId: 'cus_1',
      userId: 7,
      status: 'past_due',
      facts: {
        currentPeriodEnd: 1_800_000_000,
        priceId: 'price_1',
        planSlug: 'pro',
        period: 'yearly',
        cancelAt: 1_800_000_001,
        trialEnd: 1_700_000_000,
      },
      statusAt: 1_790_000_002,
      statusFrom: 'incomplete',
      statusSince: 1_790_000_000,
      snapshotAt: 1_790_000_001,
      snapshotStatus: 'active',
      snapshotFrom: { status: 'trialing', priceId: 'price_0' },
      lastEventAt: 1_790_000_003,
    };
    expect(stateFromRow(rowOf(state))).toEqual(state);
    expect(new Set(Object.values(rowOf(state))).size).toBe(Object.keys(SUBSCRIPTION_COLUMNS).length);
  });
});
