import { describe, expect, it } from 'vitest';
import { parseEraseArgs } from '../scripts/lib/erase-args';
import { UsageError } from '../scripts/lib/usage-error';

describe('parseEraseArgs', () => {
  it.each([
    [['--email', ' Ada@Example.com '], { person: { email: 'ada@example.com' }, dryRun: false, force: false }],
    [['--customer', 'cus_Q1a2', '--dry-run'], { person: { customer: 'cus_Q1a2' }, dryRun: true, force: false }],
    [['--email=ada@example.com', '--force'], { person: { email: 'ada@example.com' }, dryRun: false, force: true }],
  ])('%j', (argv, expected) => {
    expect(parseEraseArgs(argv)).toEqual(expected);
  });

  it.each([
    [[], /say whom: --email or --customer/],
    [['--dry-run'], /say whom/],
    [['--email', 'a@b.c', '--customer', 'cus_1'], /choose one of --email, --customer/],
    [['--customer', 'sub_1'], /not a Stripe customer id/],
    [['--customer', 'cus_a:b'], /not a Stripe customer id/],
    [['--email', 'nobody'], /not an email address/],
    [['--email'], /argument missing/],
    [['ada@example.com'], /Unexpected argument/],
    [['--everything'], /Unknown option/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseEraseArgs(argv)).toThrow(UsageError);
    expect(() => parseEraseArgs(argv)).toThrow(message);
  });
});
