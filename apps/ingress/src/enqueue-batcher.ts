import { withTimeout, type EnqueueOutcome, type EventQueue, type QueueJob, type QueueStore, type StripeEventJobData } from '@billing/queue';

type EventJob = QueueJob<StripeEventJobData>;

export interface EnqueueBatcherOptions {
  store: QueueStore;
  queue: EventQueue;
  /**
   * Longest wait for a batch to be acknowledged (written and durable: with Redis replicas, their
   * `WAIT` too); past it every request of the batch is answered 503.
   */
  timeoutMs: number;
  /**
   * Most jobs in one transaction; more in the same tick start another batch.
   * @defaultValue 500
   */
  maxBatchSize?: number;
  /** Called with each batch's size as it is sent (metrics). */
  onBatch?: (size: number) => void;
}

interface Pending {
  job: EventJob;
  resolve: (outcome: EnqueueOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Coalesces the enqueues of one event-loop turn into one write of the store (`store.writeJobs`: one
 * Redis transaction, or one Postgres transaction): requests whose bodies were read in the same turn
 * share one round trip. Each caller's promise settles only when its whole batch has been
 * acknowledged (or has failed, or timed out), so a request is never answered 200 for a batch the
 * store did not take.
 */
export class EnqueueBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  private readonly maxBatchSize: number;

  constructor(private readonly options: EnqueueBatcherOptions) {
    this.maxBatchSize = options.maxBatchSize ?? 500;
  }

  /** Writes `job` with the others of this turn; resolves with what happened to it. */
  enqueue(job: EventJob): Promise<EnqueueOutcome> {
    return new Promise<EnqueueOutcome>((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.pending.length >= this.maxBatchSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        // After the poll phase: every request whose body arrived in this turn has queued by then.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    this.options.onBatch?.(batch.length);
    const write = this.options.store.writeJobs(
      this.options.queue,
      batch.map((p) => p.job),
      { retryFailed: true, deadline: performance.now() + this.options.timeoutMs },
    );
    withTimeout(write, this.options.timeoutMs).then(
      (outcomes) => batch.forEach((p, i) => p.resolve(outcomes[i] as EnqueueOutcome)),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
  }
}
