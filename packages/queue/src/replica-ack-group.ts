import type { RedisConnection } from './redis-connection';
import { waitForReplicas } from './wait-for-replicas';

/**
 * Waits until `count` replicas hold the caller's writes, which must already be acknowledged by
 * the primary; rejects with `ReplicaAckError` if they do not by `deadline` (`performance.now()`).
 */
export type ReplicaAck = (deadline: number) => Promise<void>;

/**
 * Group commit for `WAIT`: a `WAIT` blocks its connection (every later command on it runs after
 * it returns), so one per write would serialise all writes behind the replication lag — at 1 s of
 * lag, one acknowledged event a second. Instead, callers whose writes completed while a `WAIT` was
 * in flight share the next one, sent once that returns: it covers every write before it on the
 * connection. One `WAIT` per batch, whatever the batches' size.
 */
export function replicaAckGroup(connection: RedisConnection, count: number, key?: string): ReplicaAck {
  let inFlight = false;
  let waiting: Array<{ deadline: number; resolve: () => void; reject: (error: unknown) => void }> = [];

  const issue = () => {
    if (inFlight || waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    inFlight = true;
    // The batch's longest remaining bound: callers whose own bound ends sooner give up on their own.
    const timeoutMs = Math.max(...batch.map((w) => w.deadline)) - performance.now();
    waitForReplicas(connection, count, timeoutMs, key)
      .then(
        () => {
          for (const w of batch) w.resolve();
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

  return (deadline) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ deadline, resolve, reject });
      issue();
    });
}
