import { describe, expect, it } from 'vitest';
import { entitlementsStep, isNewer, type CustomerEntitlementsState } from './entitlements';
import type { EntitlementsEvent } from './lifecycle-input';

/** Entitlements summaries: the newest wins whatever the arrival order (entitlements.ts). */

const T = 1_790_000_000;
const state = (keys: string[], at = T, complete = true, eventId = 'evt_x'): CustomerEntitlementsState => ({
  customerId: 'cus_1',
  lookupKeys: keys,
  summaryAt: at,
  eventId,
  complete,
});
const summary = (keys: string[], created = T, hasMore = false): EntitlementsEvent => ({
  id: `evt_${keys.join('_')}_${created}`,
  type: 'entitlements.active_entitlement_summary.updated',
  created,
  subscriptionId: null,
  customerId: 'cus_1',
  lookupKeys: keys,
  hasMore,
});

describe('isNewer', () => {
  it('a later second wins, whatever it holds', () => {
    expect(isNewer(state([], T + 1), state(['a', 'b'], T))).toBe(true);
    expect(isNewer(state(['a', 'b'], T), state([], T + 1))).toBe(false);
  });

  it('within a second, by content alone, so both arrival orders agree: complete, then more features, then key order', () => {
    const pairs: Array<[CustomerEntitlementsState, CustomerEntitlementsState]> = [
      [state(['a'], T, true), state(['a', 'b', 'c'], T, false)],
      [state(['a', 'b']), state(['a'])],
      [state(['a', 'b']), state(['a', 'c'])],
    ];
    for (const [winner, loser] of pairs) {
      expect(isNewer(winner, loser)).toBe(true);
      expect(isNewer(loser, winner)).toBe(false);
    }
    expect(isNewer(state(['a']), state(['a']))).toBe(false);
  });
});

describe('entitlementsStep', () => {
  it('the first summary is stored; an older one is stale; the same one again changes nothing', () => {
    expect(entitlementsStep(undefined, summary(['a']), undefined)).toEqual({
      outcome: 'applied',
      state: state(['a'], T, true, 'evt_a_1790000000'),
    });
    expect(entitlementsStep(state(['a'], T + 5), summary(['b']), undefined)).toEqual({ outcome: 'stale', state: undefined });
    expect(entitlementsStep(state(['a']), summary(['a']), undefined)).toEqual({ outcome: 'applied', state: undefined });
  });

  it('has_more: the fetched list, complete, dated at the fetch; without it the first page, incomplete', () => {
    expect(entitlementsStep(undefined, summary(['a'], T, true), { lookupKeys: ['a', 'b'], at: T + 3 })).toEqual({
      outcome: 'applied',
      state: state(['a', 'b'], T + 3, true, 'evt_a_1790000000'),
    });
    expect(entitlementsStep(undefined, summary(['a'], T, true), undefined)).toEqual({
      outcome: 'applied',
      state: state(['a'], T, false, 'evt_a_1790000000'),
    });
  });
});
