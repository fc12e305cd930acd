import { createPostgresBackend, quoteSchemaName, Queue, Worker, type Processor } from 'bullmq';
import pg from 'pg';
import { describeQueue } from '../queue-config';
import type { QueueStore, StoreOptions, StoreQueue, StoreWorker, StoreWorkerOptions } from '../queue-store';
import { writePostgresJobs } from './write-jobs';

/**
 * The queue port on Postgres: BullMQ's PostgreSQL backend (jobs in a schema of their own, LISTEN/
 * NOTIFY to wake workers). Each queue and worker gets the pool BullMQ builds for it (the schema
 * pinned on its connections); the store keeps one small pool of its own for the writes it makes in
 * one transaction (`writeJobs`), readiness and the event-log scrub.
 */
export function openPostgresStore(config: { url: string; schema: string }, options: StoreOptions): QueueStore {
  const producer = options.role === 'producer';
  const timeoutMs = options.timeoutMs ?? (producer ? 2_000 : 10_000);
  const applicationName = options.applicationName ?? 'billing-webhooks';
  const schema = quoteSchemaName(config.schema);
  // Producers fail fast: a connection that does not come, or a statement that hangs, is a 503.
  const limits = {
    connectionTimeoutMillis: timeoutMs,
    ...(producer && { statement_timeout: timeoutMs, query_timeout: timeoutMs + 500 }),
  };
  const pool = new pg.Pool({ connectionString: config.url, max: 4, application_name: applicationName, ...limits });
  const listeners: Array<(available: boolean, reason?: string) => void> = [];
  let available: boolean | undefined;
  const report = (now: boolean, reason?: string) => {
    if (available === now) return;
    available = now;
    for (const listener of listeners) listener(now, reason);
  };
  // An idle client's error (the server restarted) would otherwise crash the process.
  pool.on('error', (error) => report(false, error.message));
  // The queues' and workers' own pools (BullMQ's reads, a worker's fetches and completions): a slow
  // first connection under load must not stop an app at start, so they wait longer than the writes.
  const connection = () => ({
    connectionString: config.url,
    schema: config.schema,
    max: options.poolSize ?? 10,
    application_name: applicationName,
    connectionTimeoutMillis: Math.max(timeoutMs, 10_000),
  });
  const observed = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      const result = await work();
      report(true);
      return result;
    } catch (error) {
      report(false, (error as Error).message);
      throw error;
    }
  };

  return {
    backend: 'postgres',
    where: describeQueue({ backend: 'postgres', ...config }),
    queue<D, R>(name: string, queueOptions: { defaultJobOptions?: object } = {}) {
      const queue = new Queue(name, { connection: connection(), ...queueOptions }, createPostgresBackend);
      queue.on('error', (error: Error) => report(false, error.message));
      return queue as unknown as StoreQueue<D, R>;
    },
    worker<D, R>(name: string, processor: Processor<D, R, string>, workerOptions: StoreWorkerOptions) {
      // BullMQ waits runRetryDelay (15 s by default) after a refused connection before fetching again.
      const worker = new Worker(
        name,
        processor as Processor,
        { runRetryDelay: 1_000, ...workerOptions, connection: connection() },
        createPostgresBackend,
      );
      return worker as unknown as StoreWorker<D, R>;
    },
    writeJobs: (queue, jobs, writeOptions = {}) => observed(() => writePostgresJobs(pool, schema, queue, jobs, writeOptions)),
    isWritable: () =>
      observed(async () => {
        const { rows } = await pool.query<{ writable: boolean }>('select not pg_is_in_recovery() as writable');
        return rows[0]?.writable === true;
      }),
    async scrubEventLog(queue, mentions) {
      if (mentions.length === 0) return 0;
      const patterns = mentions.map((m) => `%${m.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      const { rowCount } = await pool.query(`delete from ${schema}.event where queue = $1 and lower(data::text) like any($2::text[])`, [
        queue.name,
        patterns,
      ]);
      return rowCount ?? 0;
    },
    onAvailability(listener) {
      listeners.push(listener);
    },
    close: () => pool.end(),
  };
}
