/**
 * Bytes of large request bodies that may be buffered at once, across all connections. Bodies are
 * kept whole until verified, so without a shared bound each slow sender could hold up to the body
 * limit for as long as the request timeout allows. A body reserves its declared length (the body
 * limit when it declares none) before a byte of it is read, and gives it back when its response
 * ends or its connection closes.
 */
export class BodyBudget {
  private used = 0;

  constructor(readonly capacityBytes: number) {}

  /** Reserves `bytes`; false (nothing reserved) when that would exceed the capacity. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.capacityBytes) return false;
    this.used += bytes;
    return true;
  }

  release(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get usedBytes(): number {
    return this.used;
  }
}
