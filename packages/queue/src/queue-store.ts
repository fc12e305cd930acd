import type { IQueueBackend, JobsOptions, Processor, Queue, Worker, WorkerOptions } from 'bullmq';
import type { QueueConfig } from './queue-config';

/** A BullMQ queue on either backend. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- BullMQ's connection-options type differs per backend
export type StoreQueue<D = any, R = any> = Queue<D, R, string, D, R, string, IQueueBackend, any>;
/** A BullMQ worker on either backend. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
export type StoreWorker<D = any, R = any> = Worker<D, R, string, IQueueBackend, any, any>;

/** A job as the producers write it: named, under an id of ours, with its data. */
export interface QueueJob<D = unknown> {
  name: string;
  jobId: string;
  data: D;
}

/**
 * What writing a job did:
 * - `added`: no job had this id; it is now waiting;
 * - `duplicate`: a job with this id was already there (any state but failed, or failed while
 *   `retryFailed` is off); nothing changed;
 * - `retried`: the job was in the failed set; it now holds the new data and waits again with fresh
 *   attempts and no stall count (what a redelivery asks for).
 */
export type EnqueueOutcome = 'added' | 'duplicate' | 'retried';

export interface WriteJobsOptions {
  /** A job found in the failed set gets the new data and goes back to waiting with fresh attempts. @defaultValue false */
  retryFailed?: boolean;
  /**
   * `performance.now()` by which the writes must be durable (on Redis with `minReplicasAck`, the
   * replicas' `WAIT`); past it the call rejects. @defaultValue 2 s from the call
   */
  deadline?: number;
}

/** Worker options the store does not decide itself (it sets the connection, the prefix, the backend). */
export type StoreWorkerOptions = Omit<WorkerOptions, 'connection' | 'prefix'>;

export interface StoreOptions {
  /**
   * `producer`: answers HTTP (ingress, dashboard, scripts) — commands fail fast while the store is
   * away, so a request becomes a 503 within the bound. `consumer`: a worker — commands wait for a
   * reconnect, as BullMQ's blocking fetches require.
   */
  role: 'producer' | 'consumer';
  /** Upper bound for one command and for connecting (producers). @defaultValue 2000 */
  timeoutMs?: number;
  /** Redis only: how many replicas must hold a job (`WAIT`) before a write resolves. @defaultValue 0 */
  minReplicasAck?: number;
  /** Postgres only: connections in each queue's pool. @defaultValue 10 */
  poolSize?: number;
  /** Name shown in `pg_stat_activity` / `CLIENT LIST`. */
  applicationName?: string;
}

/**
 * The queue port: what the apps and scripts need of the place the queues live, implemented once
 * per backend (`redis/redis-store.ts`, `postgres/postgres-store.ts`). Everything else — adding,
 * reading, retrying, cleaning jobs, the workers, Bull Board — is BullMQ's own API on the queues
 * and workers a store makes, identical on both backends.
 */
export interface QueueStore {
  readonly backend: QueueConfig['backend'];
  /** Where, for logs: host and database or node, schema or prefix; never credentials. */
  readonly where: string;
  /** A queue on this store; the caller closes it (before the store). */
  queue<D = unknown, R = unknown>(name: string, options?: { defaultJobOptions?: JobsOptions }): StoreQueue<D, R>;
  /** A worker on this store; the caller closes it (before the store). */
  worker<D = unknown, R = unknown>(name: string, processor: Processor<D, R, string>, options: StoreWorkerOptions): StoreWorker<D, R>;
  /**
   * Writes jobs in one atomic step (a Redis transaction, a Postgres transaction), whatever their
   * number, and resolves once they are durable: the acknowledgement a 200 may rest on. Of two
   * writers of one id, exactly one is told `added`; a later copy of an id within `jobs` is a
   * `duplicate`. Rejects when any write failed: then treat none as acknowledged.
   */
  writeJobs<D>(queue: StoreQueue<D>, jobs: ReadonlyArray<QueueJob<D>>, options?: WriteJobsOptions): Promise<EnqueueOutcome[]>;
  /** Whether the store takes writes now (readiness): a writable Redis primary, a Postgres primary. Rejects when it does not answer. */
  isWritable(): Promise<boolean>;
  /** Deletes the entries of a queue's event log that mention any of `mentions` (case-insensitive); resolves with how many. */
  scrubEventLog(queue: StoreQueue, mentions: readonly string[]): Promise<number>;
  /** Calls `listener` once each time the store goes away or comes back (for one log line per change). */
  onAvailability(listener: (available: boolean, reason?: string) => void): void;
  /** Closes the store's own connections; close its queues and workers first. */
  close(): Promise<void>;
}

/**
 * One line for an operator when a store cannot be used at start: a Postgres queue schema that was
 * never migrated says what to run; anything else, its message.
 */
export function queueStartProblem(error: unknown, store: Pick<QueueStore, 'where'>): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'SchemaMigrationRequiredError') {
    const schema = (error as { schema?: string }).schema ?? 'bullmq';
    return `the queue's schema "${schema}" is not migrated (${store.where}): run npm run db:migrate`;
  }
  const message = (error as Error)?.message ?? String(error);
  if (/unsupported startup parameter/i.test(message)) {
    return `the queue at ${store.where} needs a direct Postgres connection (${message}): a pooler such as PgBouncer cannot carry the queue's session settings or LISTEN; point QUEUE_DATABASE_URL at Postgres itself`;
  }
  return `the queue at ${store.where} cannot be used: ${message}`;
}
