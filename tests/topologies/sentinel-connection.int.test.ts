import { isWritablePrimary, producerConnection, workerConnection, type RedisConfig, type RedisConnection } from '@billing/queue';
import { redisServerProblem } from '@billing/testing/redis-server';
import { startSentinelTopology, type SentinelTopology } from '@billing/testing/redis-sentinel';
import { startTcpProxy, type TcpProxy } from '@billing/testing/tcp-proxy';
import { waitFor } from '@billing/testing/wait-for';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const skip = redisServerProblem();
if (skip) console.log(`skipped: ${skip}`);

describe.skipIf(skip)('the connection factory on Redis Sentinel', () => {
  let topology: SentinelTopology;
  let slowSentinels: TcpProxy[] = [];
  const open: RedisConnection[] = [];
  const config = (url: string, sentinelPorts: number[]): RedisConfig => ({
    url,
    sentinels: { name: topology.name, nodes: sentinelPorts.map((port) => ({ host: '127.0.0.1', port })) },
  });

  beforeAll(async () => {
    topology = await startSentinelTopology();
    slowSentinels = await Promise.all(
      topology.sentinels.map((s) => startTcpProxy({ host: '127.0.0.1', port: s.port }, { delay: { toClientMs: 300 } })),
    );
  });
  afterAll(async () => {
    for (const c of open) c.disconnect();
    for (const p of slowSentinels) await p.close();
    await topology?.dispose();
  });

  it('reaches the master the sentinels name, with the credentials of REDIS_URL (its host ignored)', async () => {
    const connection = producerConnection(
      config(
        topology.url,
        topology.sentinels.map((s) => s.port),
      ),
    );
    open.push(connection);
    connection.on('error', () => {});
    await waitFor(() => connection.status === 'ready', 'ready through the sentinels');
    expect(await isWritablePrimary(connection)).toBe(true);
    expect((connection as { options: { port?: number } }).options.port).not.toBe(1); // REDIS_URL's host:port (127.0.0.1:1) was not used

    const wrong = producerConnection(
      config(
        topology.url.replace(topology.password, 'not-the-password'),
        topology.sentinels.map((s) => s.port),
      ),
    );
    open.push(wrong);
    const errors: string[] = [];
    wrong.on('error', (error: Error) => errors.push(error.message));
    await waitFor(() => errors.some((m) => /WRONGPASS|invalid password/i.test(m)), 'the wrong password to be refused');
  });

  it.each([
    ['producer', producerConnection],
    ['worker', workerConnection],
  ] as const)(
    'a %s connection closed while it asks the sentinels for the master connects again (ioredis would end it for good)',
    async (_role, make) => {
      const connection = make(
        config(
          topology.url,
          slowSentinels.map((p) => p.port),
        ),
      );
      open.push(connection);
      connection.on('error', () => {});
      await waitFor(() => connection.status === 'ready', 'ready through the slow sentinels', 20_000);
      // 1. Make it reconnect (what a primary's death or a sentinel's CLIENT KILL does)…
      const admin = topology.primary.client();
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal');
      admin.disconnect();
      // 2. …and close it while it waits for a sentinel's answer, as its failover detector does on +switch-master.
      await waitFor(() => connection.status === 'connecting', 'the reconnect to ask the sentinels', 10_000, 5);
      (connection as unknown as { connector: { disconnect: () => void } }).connector.disconnect();
      await waitFor(
        async () => connection.status === 'ready' && (await isWritablePrimary(connection)),
        'the connection to be usable again',
        20_000,
      );
    },
  );
});
