import { Job } from 'bullmq';
import type pg from 'pg';
import type { EnqueueOutcome, QueueJob, StoreQueue, WriteJobsOptions } from '../queue-store';

/**
 * Writes `jobs` into BullMQ's PostgreSQL tables in one transaction on `pool`, the counterpart of the
 * Redis MULTI/EXEC (`redis/write-jobs.ts`), with the same answers:
 * 1. transaction-scoped advisory locks on the jobs' ids (sorted: no deadlock), so of two writers of
 *    one id exactly one finds it absent and is told `added`;
 * 2. which ids exist, and which are failed;
 * 3. BullMQ's own `add_job` for the first copy of each absent id (one statement);
 * 4. with `retryFailed`, each failed job gets the new data, its stall count and deferred failure
 *    cleared, and BullMQ's own `reprocess_job` moves it back to waiting with fresh attempts;
 * then COMMIT: once it returns, the jobs are as durable as the database (with synchronous
 * replication configured on the server, a standby has them too).
 */
export async function writePostgresJobs<D>(
  pool: pg.Pool,
  schema: string,
  queue: StoreQueue<D>,
  jobs: ReadonlyArray<QueueJob<D>>,
  options: WriteJobsOptions = {},
): Promise<EnqueueOutcome[]> {
  if (jobs.length === 0) return [];
  const ids = [...new Set(jobs.map((job) => job.jobId))];
  const client = await pool.connect();
  // A connection that drops mid-batch (Postgres restarted, the network cut) emits 'error' on the
  // checked-out client; pg-pool listens only on idle ones, and an unheard 'error' would end the
  // process. The query under way rejects all the same, and the batch is answered 503.
  let failure: Error | undefined;
  const onError = (error: Error) => {
    failure ??= error;
  };
  client.on('error', onError);
  try {
    await client.query('begin');
    // 1. One writer of an id at a time, until this transaction ends.
    await client.query(
      `select pg_advisory_xact_lock(k) from (select distinct hashtextextended($1 || ':' || id, 0) as k from unnest($2::text[]) as id order by k) as keys`,
      [`bullmq-job:${queue.name}`, ids],
    );
    // 2. What is there already.
    const { rows } = await client.query<{ id: string; state: string }>(
      `select id, state::text as state from ${schema}.job where queue = $1 and id = any($2::text[])`,
      [queue.name, ids],
    );
    const states = new Map(rows.map((row) => [row.id, row.state]));
    const seen = new Set<string>();
    const outcomes: EnqueueOutcome[] = jobs.map((job) => {
      const first = !seen.has(job.jobId);
      seen.add(job.jobId);
      return first && !states.has(job.jobId) ? 'added' : 'duplicate';
    });
    // 3. The absent ones, in one statement: BullMQ's `add_job` for each, in order. (Its
    // `add_jobs_bulk` builds and drops two temporary tables per call: measured with pgbench, a
    // call of one job cost ≈ 3-10× an `add_job`, and the ingress's batches are small.)
    const toAdd = jobs.filter((_, i) => outcomes[i] === 'added');
    if (toAdd.length > 0) {
      await client.query(
        `select ${schema}.add_job($1, v.id, v.name, v.data::jsonb, v.opts, v.priority, v.delay, v.timestamp, v.attempts,
           null, null, null, null, null, v.lifo)
         from jsonb_to_recordset($2::jsonb) as v(id text, name text, data text, opts jsonb, priority int, delay bigint,
           timestamp bigint, attempts int, lifo boolean)`,
        [queue.name, JSON.stringify(toAdd.map((job) => bulkEntry(queue, job)))],
      );
    }
    // 4. Redeliveries of failed jobs: the new data, fresh attempts, once per id.
    if (options.retryFailed) {
      const dataOf = new Map(jobs.map((job) => [job.jobId, job.data]));
      const retried = new Set<string>();
      for (const id of ids.filter((jobId) => states.get(jobId) === 'failed')) {
        await client.query(
          `update ${schema}.job set data = $3::jsonb, stalled_count = 0, deferred_failure = null where queue = $1 and id = $2`,
          [queue.name, id, JSON.stringify(dataOf.get(id))],
        );
        const { rows: result } = await client.query<{ code: number }>(
          `select ${schema}.reprocess_job($1, $2, 'failed', false, true, true) as code`,
          [queue.name, id],
        );
        if (result[0]?.code !== 1) throw new Error(`job ${id} could not be retried (reprocess_job answered ${String(result[0]?.code)})`);
        retried.add(id);
      }
      const answered = new Set<string>();
      jobs.forEach((job, index) => {
        if (!retried.has(job.jobId) || answered.has(job.jobId)) return;
        answered.add(job.jobId);
        outcomes[index] = 'retried';
      });
    }
    await client.query('commit');
    return outcomes;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.off('error', onError);
    // A connection that failed mid-transaction (timed out, cut) is not given to the next batch.
    client.release(failure);
  }
}

/** One job's arguments to `add_job`, from the job as `Queue.add` builds it (the queue's default options, our id). */
function bulkEntry<D>(queue: StoreQueue<D>, job: QueueJob<D>) {
  const json = new Job(queue, job.name, job.data, { ...queue.jobsOpts, jobId: job.jobId }, job.jobId).asJSON();
  const opts = (json.opts ?? {}) as { priority?: number; delay?: number; attempts?: number; lifo?: boolean };
  return {
    id: job.jobId,
    name: json.name,
    data: json.data ?? '{}',
    opts,
    priority: opts.priority ?? 0,
    delay: opts.delay ?? 0,
    timestamp: json.timestamp ?? Date.now(),
    attempts: opts.attempts ?? 1,
    schedulerId: null,
    lifo: opts.lifo ?? false,
  };
}
