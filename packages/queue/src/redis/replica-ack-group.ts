import { connectionEpoch } from './connection-epoch';
import type { RedisConnection } from './redis-connection';
import { ReplicaAckError, waitForReplicas } from './wait-for-replicas';

/**
 * Waits until `count` replicas hold the caller's writes, which must already be acknowledged by
 * the primary on the connection's `epoch` (`connectionEpoch` read when they were); rejects with
 * `ReplicaAckError` if they do not by `deadline` (`performance.now()`), or if the connection has
 * reconnected since those writes (a `WAIT` on the new connection says nothing about them).
 */
export type ReplicaAck = (deadline: number, epoch: number) => Promise<void>;

/**
 * Group commit for `WAIT`: a `WAIT` blocks its connection (every later command on it runs after
 * it returns), so one per write would serialise all writes behind the replication lag — at 1 s of
 * lag, one acknowledged event a second. Instead, callers whose writes completed while a `WAIT` was
 * in flight share the next one, sent once that returns: it covers every write before it on the
 * connection. One `WAIT` per batch, whatever the batches' size.
 */
export function replicaAckGroup(connection: RedisConnection, count: number, key?: string): ReplicaAck {
  let inFlight = false;
  let waiting: Array<{ deadline: number; epoch: number; resolve: () => void; reject: (error: unknown) => void }> = [];
  const lost = () => new ReplicaAckError(0, count, 0, 'the connection to Redis changed after the write; it may not be on this primary');

  const issue = () => {
    if (inFlight || waiting.length === 0) return;
    const epoch = connectionEpoch(connection);
    const batch = waiting.filter((w) => w.epoch === epoch);
    for (const w of waiting) if (w.epoch !== epoch) w.reject(lost());
    waiting = [];
    if (batch.length === 0) return;
    inFlight = true;
    // The batch's longest remaining bound: callers whose own bound ends sooner give up on their own.
    const timeoutMs = Math.max(...batch.map((w) => w.deadline)) - performance.now();
    waitForReplicas(connection, count, timeoutMs, key)
      .then(
        () => {
          // A WAIT resent after a reconnect counts the new connection's writes (none): not ours.
          const changed = connectionEpoch(connection) !== epoch;
          for (const w of batch) {
            if (changed) w.reject(lost());
            else w.resolve();
          }
        },
        (error: unknown) => {
          for (const w of batch) w.reject(error);
        },
      )
      .finally(() => {
        inFlight = false;
        issue();
      });
  };

  return (deadline, epoch) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ deadline, epoch, resolve, reject });
      issue();
    });
}
