import { redisServerProblem, startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { startTcpProxy, type TcpProxy } from '@billing/testing/tcp-proxy';
import { waitFor } from '@billing/testing/wait-for';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionEpoch } from './connection-epoch';
import { producerConnection } from './redis-connection';
import { replicaAckGroup } from './replica-ack-group';
import { ReplicaAckError, waitForReplicas } from './wait-for-replicas';
import { isWritablePrimary } from './writable-primary';

const skip = redisServerProblem();
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip)('waitForReplicas and isWritablePrimary (a private primary and its replica, through a delayable link)', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;
  let link: TcpProxy;
  let connection: Redis;
  let other: Redis;

  beforeAll(async () => {
    primary = await startPrivateRedis();
    link = await startTcpProxy({ host: '127.0.0.1', port: primary.port });
    replica = await startPrivateRedis({ replicaOf: { host: '127.0.0.1', port: link.port } });
    const admin = replica.client();
    await waitFor(async () => /master_link_status:up/.test(String(await admin.info('replication'))), 'the replica to sync');
    admin.disconnect();
    connection = producerConnection(primary.url, { timeoutMs: 3_000 });
    other = producerConnection(primary.url, { timeoutMs: 3_000 });
    await Promise.all([connection, other].map((c) => waitFor(() => c.status === 'ready', 'connection ready')));
  });
  afterAll(async () => {
    connection?.disconnect();
    other?.disconnect();
    await replica?.dispose();
    await link?.close();
    await primary?.dispose();
  });

  it("resolves once the replica holds the connection's earlier writes, and the replica has them", async () => {
    link.setDelay({ toClientMs: 150 });
    try {
      await connection.set('wfr:a', '1');
      const started = performance.now();
      expect(await waitForReplicas(connection, 1, 2_000)).toBe(1);
      // The write crossed the delayed link before WAIT answered (it cannot have been faster).
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      const onReplica = replica.client();
      expect(await onReplica.get('wfr:a')).toBe('1');
      onReplica.disconnect();
    } finally {
      link.setDelay({ toClientMs: 0 });
    }
  });

  it('rejects with ReplicaAckError when the replica cannot confirm within the bound, and holds up only its own connection', async () => {
    link.setDelay({ toClientMs: 1_500 });
    try {
      await connection.set('wfr:b', '1');
      const waiting = waitForReplicas(connection, 1, 300).catch((error: unknown) => error);
      // Meanwhile another connection is answered at once (WAIT blocks the client, not the server).
      expect(await other.ping()).toBe('PONG');
      const error = await waiting;
      expect(error).toBeInstanceOf(ReplicaAckError);
      expect(error).toMatchObject({ acknowledged: 0, required: 1 });
    } finally {
      link.setDelay({ toClientMs: 0 });
    }
  });

  it('asks for more replicas than exist: rejects after the bound; a bound under 1 ms rejects at once', async () => {
    expect(await waitForReplicas(connection, 1, 5_000)).toBe(1); // caught up after the previous test's lag
    await expect(waitForReplicas(connection, 2, 100)).rejects.toMatchObject({ name: 'ReplicaAckError', acknowledged: 1, required: 2 });
    await expect(waitForReplicas(connection, 1, 0.5)).rejects.toBeInstanceOf(ReplicaAckError);
    expect(await waitForReplicas(connection, 0, 100)).toBe(0);
  });

  it('isWritablePrimary: true on the primary, false on its replica (which answers PING all the same)', async () => {
    const onReplica = producerConnection(replica.url);
    try {
      await waitFor(() => onReplica.status === 'ready', 'replica connection ready');
      expect(await onReplica.ping()).toBe('PONG');
      expect(await isWritablePrimary(onReplica)).toBe(false);
      expect(await isWritablePrimary(connection)).toBe(true);
    } finally {
      onReplica.disconnect();
    }
  });

  it('replicaAckGroup: thirty concurrent writes are confirmed by a few shared WAITs, not thirty in a row', async () => {
    const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(String(await other.info('commandstats')))?.[1] ?? 0);
    expect(await waitForReplicas(connection, 1, 5_000)).toBe(1);
    link.setDelay({ toClientMs: 150 });
    try {
      const acknowledge = replicaAckGroup(connection, 1);
      const before = await waits();
      const deadline = performance.now() + 4_000;
      await Promise.all(
        Array.from({ length: 30 }, async (_, i) => {
          await connection.set(`wfr:group:${i}`, String(i));
          await acknowledge(deadline, connectionEpoch(connection));
        }),
      );
      const issued = (await waits()) - before;
      // In a row, each WAIT would wait out the lag behind the previous one (30 × 150 ms > the bound).
      expect(issued).toBeGreaterThanOrEqual(1);
      expect(issued).toBeLessThanOrEqual(4);
      const onReplica = replica.client();
      expect(await onReplica.get('wfr:group:29')).toBe('29');
      onReplica.disconnect();
    } finally {
      link.setDelay({ toClientMs: 0 });
    }
  });

  it('replicaAckGroup: a reconnect between the write and the WAIT fails the acknowledgement (the WAIT would count the new connection)', async () => {
    const own = producerConnection(primary.url, { timeoutMs: 3_000 });
    try {
      await waitFor(() => own.status === 'ready', 'connection ready');
      const acknowledge = replicaAckGroup(own, 1);
      const epoch = connectionEpoch(own);
      await own.set('wfr:reconnect', '1');
      const writtenAt = connectionEpoch(own);
      expect(writtenAt).toBe(epoch);
      own.disconnect(true);
      await waitFor(() => own.status === 'ready' && connectionEpoch(own) > writtenAt, 'the connection to come back');
      // On the new connection a WAIT counts none of the old one's writes — after a failover to a
      // primary that never had the write it would pass all the same — so it vouches for nothing.
      expect(await waitForReplicas(own, 1, 1_000)).toBe(1);
      const error = await acknowledge(performance.now() + 1_000, writtenAt).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicaAckError);
      expect((error as Error).message).toMatch(/connection to Redis changed/);
    } finally {
      own.disconnect();
    }
  });
});
