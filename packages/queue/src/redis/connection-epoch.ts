import type { RedisConnection } from './redis-connection';

const epochs = new WeakMap<RedisConnection, { value: number }>();

/**
 * How many times `connection` has (re)connected: a `WAIT` counts the replicas of the writes made
 * on the connection it is sent on, so a write acknowledged on one connection and a `WAIT` sent
 * after a reconnect — to a new primary, say, that never had the write — must not be taken for each
 * other. Compare the epoch when the write was acknowledged with the one the `WAIT` was answered on.
 */
export function connectionEpoch(connection: RedisConnection): number {
  let epoch = epochs.get(connection);
  if (!epoch) {
    const counter = { value: 0 };
    epoch = counter;
    epochs.set(connection, counter);
    // `ready` on a standalone or Sentinel connection; on a cluster, also every node (re)added.
    connection.on('ready', () => void (counter.value += 1));
    connection.on('+node', () => void (counter.value += 1));
    connection.on('close', () => void (counter.value += 1));
  }
  return epoch.value;
}
