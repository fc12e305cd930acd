export interface EventBatcherOptions<T, R> {
  /**
   * Most items in one batch.
   * @defaultValue 50
   */
  maxSize?: number;
  /**
   * Longest an item waits for others to join its batch. While `maxInFlight` batches run, items
   * keep collecting until one ends, so under load batches grow without waiting longer.
   * @defaultValue 2
   */
  maxWaitMs?: number;
  /**
   * Batches applied at once (each on a database connection of its own).
   * @defaultValue 2
   */
  maxInFlight?: number;
  /** Applies a batch; returns, per item in order, its result or the error that failed it. */
  apply: (items: T[]) => Promise<Array<R | Error>>;
}

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (error: Error) => void;
}

/**
 * Groups items submitted within a small window (bounded size and wait) into one call of
 * `apply`, and settles each item's promise with its own result once that call has returned:
 * the worker completes a job only after the batch holding it has committed.
 */
export class EventBatcher<T, R> {
  private readonly maxSize: number;
  private readonly maxWaitMs: number;
  private readonly maxInFlight: number;
  private readonly apply: (items: T[]) => Promise<Array<R | Error>>;
  private pending: Array<Pending<T, R>> = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;

  constructor(options: EventBatcherOptions<T, R>) {
    this.maxSize = options.maxSize ?? 50;
    this.maxWaitMs = options.maxWaitMs ?? 2;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.apply = options.apply;
  }

  /** Resolves with the item's result once its batch has been applied; rejects with its error. */
  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inFlight < this.maxInFlight && this.pending.length > 0) {
      this.inFlight += 1;
      void this.run(this.pending.splice(0, this.maxSize));
    }
  }

  private async run(batch: Array<Pending<T, R>>): Promise<void> {
    try {
      const results = await this.apply(batch.map((p) => p.item));
      for (const [i, p] of batch.entries()) {
        const result = results[i];
        if (result instanceof Error) p.reject(result);
        else if (result === undefined) p.reject(new Error('batch returned no result for this item'));
        else p.resolve(result);
      }
    } catch (error) {
      for (const p of batch) p.reject(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.inFlight -= 1;
      // What collected meanwhile goes at once: it has already waited for a batch to finish.
      if (this.pending.length > 0) this.flush();
    }
  }
}
