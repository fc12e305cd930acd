import { describe, expect, it } from 'vitest';
import { parseInterval } from './interval';

describe('parseInterval', () => {
  it.each([
    ['1d', 86_400_000],
    ['6h', 21_600_000],
    ['30m', 1_800_000],
    [' 2W ', 1_209_600_000],
    ['0', 0],
  ])('%j → %d ms', (text, ms) => expect(parseInterval(text)).toBe(ms));

  it.each(['', 'daily', '1.5h', '-1d', '10'])('refuses %j', (text) => expect(parseInterval(text)).toBeUndefined());
});
