const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `RECONCILE_INTERVAL`: `30m`, `6h`, `1d`, `1w` (or `0`: never) in ms; undefined when it is neither. */
export function parseInterval(text: string): number | undefined {
  const value = text.trim().toLowerCase();
  if (value === '0') return 0;
  const match = /^(\d+)\s*(s|m|h|d|w)$/.exec(value);
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return ms > 0 ? ms : 0;
}
