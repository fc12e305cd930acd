import { Queue, Worker, type Processor } from 'bullmq';
import { describeQueue } from '../queue-config';
import type { QueueStore, StoreOptions, StoreQueue, StoreWorker, StoreWorkerOptions } from '../queue-store';
import { connectionEpoch } from './connection-epoch';
import { hasHashTag, type RedisConfig } from './redis-config';
import { isCluster, producerConnection, workerConnection, type RedisConnection } from './redis-connection';
import { replicaAckGroup, type ReplicaAck } from './replica-ack-group';
import { isWritablePrimary } from './writable-primary';
import { writeRedisJobs } from './write-jobs';

/** Entries read per `XRANGE` while scrubbing a queue's event stream. */
const STREAM_PAGE = 500;

/**
 * The queue port on Redis (standalone, Sentinel or Cluster). A producer gets two fail-fast
 * connections — one for the queues' writes (and `WAIT`, which holds up every later command on its
 * connection), one for readiness — a consumer one connection that waits for reconnects (BullMQ
 * duplicates it for its blocking fetches).
 */
export function openRedisStore(config: { redis: RedisConfig; prefix: string }, options: StoreOptions): QueueStore {
  const { redis, prefix } = config;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const connection: RedisConnection = options.role === 'producer' ? producerConnection(redis, { timeoutMs }) : workerConnection(redis);
  const probe: RedisConnection = options.role === 'producer' ? producerConnection(redis, { timeoutMs }) : connection;
  connectionEpoch(connection); // counting from now, before the first write
  const minReplicasAck = options.minReplicasAck ?? 0;
  const acks = new WeakMap<StoreQueue, ReplicaAck>();
  const listeners: Array<(available: boolean, reason?: string) => void> = [];
  let available: boolean | undefined;
  const report = (now: boolean, reason?: string) => {
    if (available === now) return;
    available = now;
    for (const listener of listeners) listener(now, reason);
  };
  // An EventEmitter `error` without a listener would crash the process on the first outage.
  connection.on('error', (error: Error) => report(false, error.message));
  connection.on('ready', () => report(true));
  if (probe !== connection) probe.on('error', () => {});

  if (isCluster(connection) && !hasHashTag(prefix)) {
    throw new TypeError(`openRedisStore: prefix "${prefix}" has no {hash-tag}; on Redis Cluster a queue's keys must share one slot`);
  }

  return {
    backend: 'redis',
    where: describeQueue({ backend: 'redis', ...config }),
    queue<D, R>(name: string, queueOptions: { defaultJobOptions?: object } = {}) {
      const queue = new Queue<D, R, string>(name, { connection, prefix, ...queueOptions });
      return queue as unknown as StoreQueue<D, R>;
    },
    worker<D, R>(name: string, processor: Processor<D, R, string>, workerOptions: StoreWorkerOptions) {
      return new Worker<D, R, string>(name, processor, { ...workerOptions, connection, prefix }) as unknown as StoreWorker<D, R>;
    },
    async writeJobs(queue, jobs, writeOptions = {}) {
      const deadline = writeOptions.deadline ?? performance.now() + timeoutMs;
      const outcomes = await writeRedisJobs(queue, jobs, { retryFailed: writeOptions.retryFailed });
      const epoch = connectionEpoch(queue.opts.connection as RedisConnection);
      if (minReplicasAck > 0) {
        let ack = acks.get(queue);
        if (!ack) {
          // Every key of the queue is in the prefix's slot, so any of them names the node on a cluster.
          ack = replicaAckGroup(queue.opts.connection as RedisConnection, minReplicasAck, queue.toKey(''));
          acks.set(queue, ack);
        }
        // A duplicate too: its first delivery may have been refused (503) with the job on the primary only.
        await ack(deadline, epoch);
      }
      return outcomes;
    },
    isWritable: () => isWritablePrimary(probe),
    async scrubEventLog(queue, mentions) {
      if (mentions.length === 0) return 0;
      const needles = mentions.map((m) => m.toLowerCase());
      const key = queue.keys.events!;
      let deleted = 0;
      for (let from = '-'; ;) {
        const entries = await connection.xrange(key, from, '+', 'COUNT', STREAM_PAGE);
        const hits = entries.filter(([, fields]) => fields.some((field) => needles.some((m) => field.toLowerCase().includes(m))));
        if (hits.length > 0) deleted += await connection.xdel(key, ...hits.map(([id]) => id));
        if (entries.length < STREAM_PAGE) return deleted;
        from = `(${entries.at(-1)![0]}`;
      }
    },
    onAvailability(listener) {
      listeners.push(listener);
    },
    async close() {
      for (const c of new Set([connection, probe])) {
        if (c.status === 'ready') await c.quit().catch(() => c.disconnect());
        else c.disconnect();
      }
    },
  };
}
