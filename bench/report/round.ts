/** Rounds to `digits` decimals, for figures meant to be read (and diffed) by people. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
