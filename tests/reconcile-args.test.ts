import { describe, expect, it } from 'vitest';
import { parseReconcileArgs } from '../scripts/lib/reconcile-args';
import { UsageError } from '../scripts/lib/usage-error';

const now = new Date('2026-12-07T06:00:00Z');

describe('parseReconcileArgs', () => {
  it('defaults to the whole 30-day event window, read-only, a table', () => {
    expect(parseReconcileArgs([], now)).toEqual({ since: new Date('2026-11-07T06:00:00Z'), repair: false, json: false });
  });

  it('reads every flag', () => {
    expect(parseReconcileArgs(['--since', '2d', '--customer', 'cus_A1', '--repair', '--json'], now)).toEqual({
      since: new Date('2026-12-05T06:00:00Z'),
      customer: 'cus_A1',
      repair: true,
      json: true,
    });
  });

  it.each([
    [['--customer', 'sub_1'], /not a Stripe customer id/],
    [['--customer', 'cus_1;drop'], /not a Stripe customer id/],
    [['--since', '45d'], /older than Stripe's 30-day event window/],
    [['--since', 'yesterday'], /neither an ISO date/],
    [['--repairs'], /Unknown option '--repairs'/],
    [['cus_1'], /Unexpected argument/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseReconcileArgs(argv, now)).toThrow(UsageError);
    expect(() => parseReconcileArgs(argv, now)).toThrow(message);
  });

  it('--help is a usage error without a message', () => {
    expect(() => parseReconcileArgs(['--help'], now)).toThrow(new UsageError(''));
  });
});
