import { randomInt } from 'node:crypto';

/**
 * The seed of this run: `FAULT_SEED` when set (to replay a failing run exactly), else a fresh one.
 * Scenarios print it in their figure line.
 */
export function faultSeed(env: Record<string, string | undefined> = process.env): number {
  const given = env.FAULT_SEED?.trim();
  if (given) {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new Error(`FAULT_SEED must be an integer from 0 to ${0xffff_ffff}, got "${given}"`);
    }
    return seed;
  }
  return randomInt(0, 0xffff_ffff);
}

/** mulberry32: a small, fast PRNG whose whole sequence is fixed by a 32-bit seed. Returns [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A shuffled copy (Fisher–Yates) driven by `random`. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** `length` bytes from `random`. */
export function seededBytes(length: number, random: () => number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
