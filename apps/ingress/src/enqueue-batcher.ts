import { withTimeout, writeEventJobs, type EnqueueOutcome, type EventJob, type EventQueue } from '@billing/queue';
import type { RedisConnection } from '@billing/queue';

export interface EnqueueBatcherOptions {
  queue: EventQueue;
  /**
   * Longest wait for a batch to be acknowledged, its writes and `afterBatchWrite` together;
   * past it every request of the batch is answered 503.
   */
  timeoutMs: number;
  /**
   * Awaited once per batch after Redis acknowledged its writes and before any of its requests is
   * answered, with the connection the batch was written on (the queue's own), so a `WAIT` for
   * replicas there covers every write of the batch. A rejection fails the whole batch.
   */
  afterBatchWrite?: (connection: RedisConnection) => Promise<void>;
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
 * Coalesces the enqueues of one event-loop turn into one Redis transaction (`writeEventJobs`):
 * requests whose bodies were read in the same turn share one round trip. Each caller's promise
 * settles only when its whole batch has been acknowledged (or has failed, or timed out), so a
 * request is never answered 200 for a batch Redis did not take.
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
    withTimeout(this.write(batch.map((p) => p.job)), this.options.timeoutMs).then(
      (outcomes) => batch.forEach((p, i) => p.resolve(outcomes[i] as EnqueueOutcome)),
      (error: unknown) => batch.forEach((p) => p.reject(error)),
    );
  }

  private async write(jobs: EventJob[]): Promise<EnqueueOutcome[]> {
    const outcomes = await writeEventJobs(this.options.queue, jobs, { retryFailed: true });
    await this.options.afterBatchWrite?.(this.options.queue.opts.connection as RedisConnection);
    return outcomes;
  }
}
