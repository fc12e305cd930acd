import { Queue, Worker } from 'bullmq';
import { redisServerProblem, startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { waitFor } from '@billing/testing/wait-for';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { producerConnection, workerConnection } from './redis-connection';

const skip = redisServerProblem();
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip)('connections on a node that answers READONLY (a demoted primary)', () => {
  let primary: PrivateRedis;
  let replica: PrivateRedis;

  beforeAll(async () => {
    primary = await startPrivateRedis();
    replica = await startPrivateRedis({ replicaOf: { host: '127.0.0.1', port: primary.port } });
    const admin = replica.client();
    await waitFor(async () => /master_link_status:up/.test(String(await admin.info('replication'))), 'the replica to sync');
    admin.disconnect();
  });
  afterAll(async () => {
    await replica?.dispose();
    await primary?.dispose();
  });

  it('a worker backs off instead of spinning, is logged a bounded number of times, and works once the node is a primary again', async () => {
    const connection = workerConnection(replica.url);
    const errors: string[] = [];
    const worker = new Worker('readonly-backoff', async () => 'done', { connection, prefix: 'bull', autorun: false });
    worker.on('error', (error) => errors.push(error.message));
    try {
      await worker.waitUntilReady();
      void worker.run();
      // BullMQ fetches again at once after an error reply: without a backoff this is thousands a second.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const readonly = errors.filter((m) => m.includes('READONLY'));
      console.log(`READONLY errors in 3 s with the backoff: ${readonly.length}`);
      expect(readonly.length).toBeGreaterThan(0);
      expect(readonly.length).toBeLessThan(12); // ≈5 with the doubling delays, ≈16 reconnecting every 200 ms, ≈9,000 spinning

      // The node is promoted: the worker processes a job without being restarted.
      const admin = replica.client();
      await admin.call('REPLICAOF', 'NO', 'ONE');
      admin.disconnect();
      const producer = producerConnection(replica.url);
      const queue = new Queue('readonly-backoff', { connection: producer, prefix: 'bull' });
      await queue.add(
        'invoice.paid',
        { id: 'evt_backoff', object: 'event', type: 'invoice.paid', created: 1, data: { object: {} } },
        { jobId: 'evt_backoff' },
      );
      await waitFor(
        async () => (await queue.getJobState('evt_backoff')) === 'completed',
        'the job to complete on the promoted node',
        20_000,
      );
      await queue.obliterate({ force: true });
      await queue.close();
      producer.disconnect();
    } finally {
      await worker.close(true);
      connection.disconnect();
    }
  });
});
