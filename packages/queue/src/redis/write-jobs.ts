import { Job, type IRedisTransaction, type RedisClient, type RedisQueueBackend } from 'bullmq';
import type { Redis } from 'ioredis';
import type { EnqueueOutcome, QueueJob, StoreQueue } from '../queue-store';
import { isCluster, type RedisConnection } from './redis-connection';

export interface RedisWriteOptions {
  /** Move a job found in the failed set back to waiting, with the new data and its counters reset. @defaultValue false */
  retryFailed?: boolean;
  /**
   * How the transaction is sent. `inline`: MULTI, the commands and EXEC written straight on the
   * connection in one synchronous run (nothing else can interleave on it). `pipeline`: an ioredis
   * `multi()` pipeline, which Redis Cluster needs (it routes the whole transaction by its keys'
   * slot) but whose bookkeeping objects outlive young-generation GCs: at 50 jobs a batch it
   * tripled the old-space heap in our measurements.
   * @defaultValue `pipeline` on a Cluster connection, else `inline`
   */
  transport?: 'inline' | 'pipeline';
}

/**
 * Per job hash in KEYS[2..]: 0 = no such job, 2 = in the failed set (KEYS[1]), 1 = any other
 * state. Ids in ARGV, in the same order. One command for the whole batch.
 */
const PROBE_JOBS_LUA = `
local states = {}
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    states[i - 1] = 0
  elseif redis.call('ZSCORE', KEYS[1], ARGV[i - 1]) then
    states[i - 1] = 2
  else
    states[i - 1] = 1
  end
end
return states
`;
const PROBE_COMMAND = 'billingProbeEventJobs';

/**
 * A redelivered event replaces the data of its failed job — the freshly verified event, signed with
 * today's key — and the job's stall count and deferred failure go, so the job starts over as a new
 * delivery would (a job refused for an unsigned or retired-key payload, or failed for stalling, would
 * otherwise be refused or failed again at once). Only while the job is still in the failed set
 * (KEYS[1] failed set, KEYS[2] the job hash, ARGV[1] id, ARGV[2] data); 1 when replaced.
 */
const REPLACE_FAILED_LUA = `
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('HSET', KEYS[2], 'data', ARGV[2])
  redis.call('HDEL', KEYS[2], 'stc', 'defa')
  return 1
end
return 0
`;
const REPLACE_COMMAND = 'billingReplaceFailedJobData';
const ABSENT = 0;
const FAILED = 2;

/**
 * Writes `jobs` in one Redis transaction (MULTI/EXEC) on the queue's own connection, so one round
 * trip whatever their number:
 * 1. a script of ours reads, for every job, whether its id exists and whether it is failed;
 * 2. BullMQ's own add script per job, which leaves an existing id untouched, in any state.
 * Both run atomically with respect to every other client, so of two deliveries of one event
 * (in one batch, or from two ingress replicas) exactly one is `added`.
 * 3. Only when `retryFailed` and some job was found failed: a second transaction gives those jobs
 *    the new data (`REPLACE_FAILED_LUA`) and runs BullMQ's own reprocess script, which moves a job
 *    back to waiting only if it is still in the failed set, so of concurrent redeliveries exactly
 *    one is `retried`.
 *
 * Resolves once Redis has acknowledged every write; rejects if a transaction or any command in
 * it failed, or if a failed job vanished before it could be retried (the caller then treats the
 * whole batch as not acknowledged; a redelivery adds the event again).
 */
export async function writeRedisJobs<D>(
  queue: StoreQueue<D>,
  jobs: ReadonlyArray<QueueJob<D>>,
  options: RedisWriteOptions = {},
): Promise<EnqueueOutcome[]> {
  if (jobs.length === 0) return [];
  const backend = queue.backend as RedisQueueBackend;
  const client = await backend.client;
  const connection = queue.opts.connection as RedisConnection;
  defineCommands(connection);
  const transport = options.transport ?? (isCluster(connection) ? 'pipeline' : 'inline');
  const run = async (queueCommands: (target: RedisClient | IRedisTransaction) => void, count: number) => {
    try {
      return await (transport === 'inline'
        ? inlineTransaction(connection as Redis, () => queueCommands(client), count)
        : pipelineTransaction(client, queueCommands, count));
    } catch (error) {
      await reloadScripts(connection);
      throw error;
    }
  };

  // 1-2. Probe, then add, in one transaction.
  const jobKeys = jobs.map((job) => queue.toKey(job.jobId));
  const probeArgs = [jobKeys.length + 1, queue.toKey('failed'), ...jobKeys, ...jobs.map((job) => job.jobId)];
  const replies = await run((target) => {
    settleQuietly(target.runCommand(PROBE_COMMAND, probeArgs));
    // BullMQ's add, queued synchronously on the transaction as its own addBulk does.
    for (const job of jobs) void backend.addJobToTransaction(target, toJobJson(queue, job), job.jobId).catch(() => {});
  }, jobs.length + 1);
  const states = (replies[0] as unknown[]).map(Number);

  // A later copy of an id within the batch finds what the first copy left.
  const seen = new Set<string>();
  const outcomes: EnqueueOutcome[] = jobs.map((job, index) => {
    const first = !seen.has(job.jobId);
    seen.add(job.jobId);
    return first && states[index] === ABSENT ? 'added' : 'duplicate';
  });

  // 3. Redeliveries of failed events: fresh attempts, once per id.
  const toRetry = options.retryFailed ? [...new Set(jobs.filter((_, i) => states[i] === FAILED).map((job) => job.jobId))] : [];
  if (toRetry.length > 0) {
    const dataOf = new Map(jobs.map((job) => [job.jobId, job.data]));
    const replies = await run((target) => {
      for (const jobId of toRetry) {
        const replace = [2, queue.toKey('failed'), queue.toKey(jobId), jobId, JSON.stringify(dataOf.get(jobId))];
        settleQuietly(target.runCommand(REPLACE_COMMAND, replace));
        settleQuietly(backend.execCommand(target, 'reprocessJob', reprocessFailedArgs(queue, jobId)));
      }
    }, toRetry.length * 2);
    const results = replies.filter((_, i) => i % 2 === 1).map(Number);
    const retried = new Set<string>();
    results.forEach((result, i) => {
      const jobId = toRetry[i] as string;
      if (result === 1) retried.add(jobId);
      else if (result !== JOB_NOT_IN_STATE) throw new Error(`job ${jobId} could not be retried (reprocessJob answered ${result})`);
    });
    const answered = new Set<string>();
    jobs.forEach((job, index) => {
      if (!retried.has(job.jobId) || answered.has(job.jobId)) return;
      answered.add(job.jobId);
      outcomes[index] = 'retried';
    });
  }
  return outcomes;
}

/**
 * Inline, a queued command answers a promise of QUEUED whose rejection EXEC reports too (as
 * EXECABORT); on a pipeline it answers the pipeline itself.
 */
function settleQuietly(queued: unknown): void {
  if (queued instanceof Promise) queued.catch(() => {});
}

/**
 * MULTI, what `queueCommands` sends, EXEC, written on `connection` in one synchronous run: no
 * other command of this process can come between them, and Redis runs them as one transaction.
 * A command refused while queueing (say OOM) makes EXEC fail with EXECABORT, reported below.
 */
async function inlineTransaction(connection: Redis, queueCommands: () => void, count: number): Promise<unknown[]> {
  // One write for the whole transaction instead of one per command (measured: ~15 % less CPU).
  const socket = connection.stream as { cork?: () => void; uncork?: () => void } | undefined;
  socket?.cork?.();
  const opened = connection.multi({ pipeline: false });
  queueCommands();
  const executed = connection.exec();
  socket?.uncork?.();
  opened.catch(() => {}); // EXEC reports the same failure
  return unwrap(await executed, count);
}

async function pipelineTransaction(
  client: RedisClient,
  queueCommands: (target: IRedisTransaction) => void,
  count: number,
): Promise<unknown[]> {
  const multi = client.multi();
  queueCommands(multi);
  return unwrap(await multi.exec(), count);
}

/** reprocessJob's answer for a job that exists but is no longer in the failed set (someone retried it first). */
const JOB_NOT_IN_STATE = -3;

function unwrap(replies: [Error | null, unknown][] | null, expected: number): unknown[] {
  if (replies === null) throw new Error('Redis discarded the transaction');
  if (replies.length !== expected) throw new Error(`Redis answered ${replies.length} replies for ${expected} commands`);
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/**
 * ioredis sends a script's body once per socket (EVAL), then only its SHA. Inside MULTI it cannot
 * fall back on NOSCRIPT, so when that first EVAL never ran (its transaction was refused, say OOM)
 * or Redis forgot the scripts (SCRIPT FLUSH), every later transaction would fail. After any
 * failed transaction, load them all again before the next batch.
 */
async function reloadScripts(connection: RedisConnection): Promise<void> {
  const scripts = Object.values((connection as unknown as { scriptsSet: Record<string, { lua: string }> }).scriptsSet);
  await Promise.all(scripts.map((script) => connection.script('LOAD', script.lua))).catch(() => {});
}

const defined = new WeakSet<RedisConnection>();

/** Registers our scripts on the connection (ioredis sends EVAL once per socket, then EVALSHA). */
function defineCommands(connection: RedisConnection): void {
  if (defined.has(connection)) return;
  connection.defineCommand(PROBE_COMMAND, { lua: PROBE_JOBS_LUA });
  connection.defineCommand(REPLACE_COMMAND, { lua: REPLACE_FAILED_LUA });
  defined.add(connection);
}

/** The stored shape of a new job, as `Queue.add` builds it (the queue's default options, our id). */
function toJobJson<D>(queue: StoreQueue<D>, job: QueueJob<D>) {
  return new Job(queue, job.name, job.data, { ...queue.jobsOpts, jobId: job.jobId }, job.jobId).asJSON();
}

/**
 * BullMQ's `reprocessJob` script as `job.retry('failed', { resetAttemptsMade: true,
 * resetAttemptsStarted: true })` calls it (bullmq 6.7.0 `RedisQueueBackend.retryFinishedJob`),
 * so several run in one transaction. Event jobs are never LIFO.
 */
function reprocessFailedArgs(queue: StoreQueue, jobId: string): string[] {
  const keys = queue.keys;
  return [
    queue.toKey(jobId),
    keys.events,
    queue.toKey('failed'),
    keys.wait,
    keys.meta,
    keys.active,
    keys.marker,
    keys.prioritized,
    keys.pc,
    jobId,
    'LPUSH',
    'failedReason',
    'failed',
    '1',
    '1',
  ].map(String);
}
