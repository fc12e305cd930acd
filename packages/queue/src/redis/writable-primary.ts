import type { Redis } from 'ioredis';
import { isCluster, type RedisConnection } from './redis-connection';
import { slotOwner } from './slot-owner';

/**
 * Whether `connection` talks to a primary that accepts writes — what an ingress needs to be
 * ready, where a `PING` would also answer from a replica or a demoted primary. Standalone or
 * Sentinel: `ROLE` is `master`. Cluster: `CLUSTER INFO` says `cluster_state:ok` and the primary
 * that owns `key`'s slot (every known primary without a key) answers `ROLE` as one. Rejects
 * when Redis does not answer; callers bound the wait.
 */
export async function isWritablePrimary(connection: RedisConnection, key?: string): Promise<boolean> {
  if (!isCluster(connection)) return isPrimary(connection);
  const info = String(await connection.call('CLUSTER', 'INFO'));
  if (!/^cluster_state:ok\s*$/m.test(info)) return false;
  const nodes = key === undefined ? connection.nodes('master') : [await slotOwner(connection, key)];
  if (nodes.length === 0) return false;
  const roles = await Promise.all(nodes.map(isPrimary));
  return roles.every(Boolean);
}

async function isPrimary(node: Redis): Promise<boolean> {
  const role = (await node.call('ROLE')) as unknown[];
  return role[0] === 'master';
}
