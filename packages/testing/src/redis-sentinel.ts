import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports';
import { startPrivateRedis, type PrivateRedis } from './redis-server';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';
import { waitFor } from './wait-for';

export interface PrivateSentinel {
  port: number;
  /** An admin connection to this sentinel; the caller quits it. */
  client: () => Redis;
  stop: () => Promise<void>;
}

export interface SentinelTopology {
  /** The master's name the sentinels monitor (`REDIS_SENTINEL_NAME`). */
  name: string;
  primary: PrivateRedis;
  replica: PrivateRedis;
  /** The replica's link to the primary goes through this proxy, to delay or cut replication. */
  replicationLink: TcpProxy;
  sentinels: PrivateSentinel[];
  /** `REDIS_SENTINELS`. */
  sentinelList: string;
  password: string;
  /** `REDIS_URL` for the apps: the credentials; its host is replaced by whatever the sentinels say. */
  url: string;
  /** Resolves with the port the sentinels (all of them) name as the master's. */
  masterPort: () => Promise<number>;
  dispose: () => Promise<void>;
}

export interface SentinelTopologyOptions {
  /** Latency added to the replication stream (primary → replica), so a replica lags behind. @defaultValue 0 */
  replicationDelayMs?: number;
  /** @defaultValue 1000 */
  downAfterMs?: number;
}

/**
 * A primary, its replica (through a delayable TCP proxy) and three sentinels (quorum 2), all
 * on free ports with a password, each in a temporary directory; resolves once the replica is in
 * sync and every sentinel knows the replica and the two other sentinels (a failover needs a
 * majority to vote).
 */
export async function startSentinelTopology(options: SentinelTopologyOptions = {}): Promise<SentinelTopology> {
  const name = 'billing-primary';
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const started: Array<() => Promise<unknown>> = [];
  const dispose = async () => {
    for (const stop of started.splice(0).reverse()) await stop().catch(() => {});
  };
  try {
    const primary = await startPrivateRedis({ password, appendOnly: true });
    started.push(() => primary.dispose());
    const replicationLink = await startTcpProxy({ host: '127.0.0.1', port: primary.port });
    started.push(() => replicationLink.close());
    const replica = await startPrivateRedis({ password, appendOnly: true, replicaOf: { host: '127.0.0.1', port: replicationLink.port } });
    started.push(() => replica.dispose());
    const admin = replica.client();
    try {
      await waitFor(async () => /master_link_status:up/.test(String(await admin.info('replication'))), 'the replica to sync', 15_000, 50);
    } finally {
      admin.disconnect();
    }
    // Delayed only once in sync: every step of the handshake would wait for it too.
    replicationLink.setDelay({ toClientMs: options.replicationDelayMs ?? 0 });

    const sentinels: PrivateSentinel[] = [];
    for (let i = 0; i < 3; i += 1) {
      const sentinel = await startSentinel({ name, primaryPort: primary.port, password, downAfterMs: options.downAfterMs ?? 1_000 });
      started.push(() => sentinel.stop());
      sentinels.push(sentinel);
    }
    await Promise.all(
      sentinels.map(async (sentinel) => {
        const client = sentinel.client();
        try {
          await waitFor(
            async () => {
              const [master] = (await client.call('SENTINEL', 'MASTERS')) as string[][];
              const fields = fieldsOf(master ?? []);
              return Number(fields['num-slaves']) >= 1 && Number(fields['num-other-sentinels']) >= 2;
            },
            'each sentinel to know the replica and the other sentinels',
            20_000,
            100,
          );
        } finally {
          client.disconnect();
        }
      }),
    );

    const masterPort = async () => {
      const ports = await Promise.all(
        sentinels.map(async (sentinel) => {
          const client = sentinel.client();
          try {
            const address = (await client.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as [string, string];
            return Number(address[1]);
          } finally {
            client.disconnect();
          }
        }),
      );
      return ports.every((p) => p === ports[0]) ? (ports[0] as number) : -1;
    };
    return {
      name,
      primary,
      replica,
      replicationLink,
      sentinels,
      sentinelList: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      password,
      url: `redis://:${encodeURIComponent(password)}@127.0.0.1:1`,
      masterPort,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** One `redis-server <conf> --sentinel` monitoring the primary (quorum 2). */
async function startSentinel(options: {
  name: string;
  primaryPort: number;
  password: string;
  downAfterMs: number;
}): Promise<PrivateSentinel> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bw-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  // failover-timeout: long enough that a sentinel does not "fix" the replica's link (it points
  // at the delaying proxy, not at the address the sentinels monitor) within a test, short enough
  // that a split vote is retried (after twice this) inside one.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${options.name} 127.0.0.1 ${options.primaryPort} 2`,
      `sentinel auth-pass ${options.name} ${options.password}`,
      `sentinel down-after-milliseconds ${options.name} ${options.downAfterMs}`,
      `sentinel failover-timeout ${options.name} 20000`,
      `sentinel parallel-syncs ${options.name} 1`,
      '',
    ].join('\n'),
  );
  let output = '';
  const child: ChildProcess = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
  const client = () => {
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 0, retryStrategy: () => null, enableReadyCheck: false });
    redis.on('error', () => {});
    return redis;
  };
  const pong = async () => {
    const probe = client();
    try {
      return child.exitCode === null && (await probe.ping()) === 'PONG';
    } finally {
      probe.disconnect();
    }
  };
  try {
    await waitFor(pong, `sentinel on port ${port}`, 10_000, 50);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output.slice(-2_000)}`, { cause: error });
  }
  return {
    port,
    client,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `[k1, v1, k2, v2…]` as an object (Sentinel's replies). */
export function fieldsOf(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string;
  return fields;
}
