import { HANDLED_EVENT_TYPES } from '@billing/billing';
import { describe, expect, it } from 'vitest';
import { parseBackfillArgs, parseSince } from '../scripts/lib/backfill';
import { UsageError } from '../scripts/lib/usage-error';

const NOW = new Date('2026-06-15T12:00:00Z');

describe('parseSince', () => {
  it.each([
    ['6h', '2026-06-15T06:00:00.000Z'],
    ['90m', '2026-06-15T10:30:00.000Z'],
    ['2d', '2026-06-13T12:00:00.000Z'],
    ['1w', '2026-06-08T12:00:00.000Z'],
    ['30d', '2026-05-16T12:00:00.000Z'],
    ['2026-06-01', '2026-06-01T00:00:00.000Z'],
    ['2026-06-01T08:30:00Z', '2026-06-01T08:30:00.000Z'],
    ['2026-06-01T08:30:00+02:00', '2026-06-01T06:30:00.000Z'],
  ])('%s → %s', (input, expected) => {
    expect(parseSince(input, NOW).toISOString()).toBe(expected);
  });

  it.each([
    ['31d', /older than Stripe's 30-day event window.*oldest start possible now is 2026-05-16T12:00:00.000Z/],
    ['2026-05-01', /older than Stripe's 30-day event window/],
    ['2026-07-01', /in the future/],
    ['yesterday', /neither an ISO date .* nor a duration/],
    ['6 hours', /neither an ISO date/],
    ['2026-02-31', /not a valid date|neither/],
  ])('refuses %s', (input, message) => {
    expect(() => parseSince(input, NOW)).toThrow(UsageError);
    expect(() => parseSince(input, NOW)).toThrow(message);
  });

  it('requires --since', () => {
    expect(() => parseBackfillArgs([], NOW)).toThrow(/--since is required/);
    expect(parseBackfillArgs(['--since', '6h', '--dry-run'], NOW)).toEqual({ since: new Date('2026-06-15T06:00:00Z'), dryRun: true });
  });

  it('asks Stripe for exactly the handled types', () => {
    expect([...HANDLED_EVENT_TYPES].sort()).toEqual([
      'checkout.session.completed',
      'customer.subscription.created',
      'customer.subscription.deleted',
      'customer.subscription.paused',
      'customer.subscription.pending_update_applied',
      'customer.subscription.pending_update_expired',
      'customer.subscription.resumed',
      'customer.subscription.trial_will_end',
      'customer.subscription.updated',
      'entitlements.active_entitlement_summary.updated',
      'invoice.paid',
      'invoice.payment_failed',
      'invoice.payment_succeeded',
    ]);
  });
});
