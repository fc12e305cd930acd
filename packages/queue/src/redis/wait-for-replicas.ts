import { isCluster, type RedisConnection } from './redis-connection';
import { slotOwner } from './slot-owner';

/** Fewer replicas than required confirmed the writes in time: the writes may not survive a failover. */
export class ReplicaAckError extends Error {
  override name = 'ReplicaAckError';
  constructor(
    readonly acknowledged: number,
    readonly required: number,
    timeoutMs: number,
    reason?: string,
  ) {
    super(reason ?? `${acknowledged} of ${required} required replica(s) acknowledged within ${timeoutMs} ms`);
  }
}

/**
 * Resolves once `count` replicas hold every write this connection made so far (`WAIT`), or
 * rejects with `ReplicaAckError` after `timeoutMs` (at least 1 ms: `WAIT n 0` would block
 * forever). One call covers all earlier writes of the connection, so issue it on the same
 * connection as the writes, once after a batch of them; it blocks that connection (not Redis)
 * meanwhile, so keep unrelated commands on another one. On a cluster, `WAIT` goes to the primary
 * owning `key`'s slot, on the connection the writes to that slot used. Resolves with the number
 * of replicas that acknowledged.
 */
export async function waitForReplicas(connection: RedisConnection, count: number, timeoutMs: number, key?: string): Promise<number> {
  if (count <= 0) return 0;
  const ms = Math.floor(timeoutMs);
  if (ms < 1) throw new ReplicaAckError(0, count, 0);
  let node;
  if (isCluster(connection)) {
    if (key === undefined) throw new TypeError('waitForReplicas: a key is required on a cluster (WAIT goes to its slot owner)');
    node = await slotOwner(connection, key);
  } else {
    node = connection;
  }
  const acknowledged = Number(await node.call('WAIT', count, ms));
  if (acknowledged < count) throw new ReplicaAckError(acknowledged, count, ms);
  return acknowledged;
}
