import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { freePort } from './ports';

export interface PrivateRedis {
  port: number;
  /** `redis://127.0.0.1:<port>`, or `rediss://` when the server speaks TLS; with the password when there is one. */
  url: string;
  /** The server's data directory (AOF, cluster config). */
  dir: string;
  /** Stops the server (SIGTERM; SIGKILL if `hard`). */
  stop: (hard?: boolean) => Promise<void>;
  /** Starts it again on the same port and directory (AOF data survives when enabled). */
  start: () => Promise<void>;
  /** Kills the server and removes its data directory. */
  dispose: () => Promise<void>;
  /** An admin connection of the test's own (plain ioredis, no retries); the caller quits it. */
  client: () => Redis;
  /** The running server's process id. */
  pid: () => number | undefined;
}

export interface PrivateRedisOptions {
  appendOnly?: boolean;
  /** `requirepass` (and `masterauth`, so replicas of a server with the same password can sync). */
  password?: string;
  /** Starts as a replica of this primary (e.g. through a proxy that delays the replication link). */
  replicaOf?: { host: string; port: number };
  /** Serves TLS only (the plain port is closed), with these files; `authClients` demands a client certificate. */
  tls?: { certFile: string; keyFile: string; caFile: string; authClients?: boolean };
  /** A Redis Cluster node (`cluster-enabled yes`) with this node timeout. */
  cluster?: { nodeTimeoutMs: number };
}

/** Why redis-server cannot be used here (one line), or `undefined` when it can. */
export function redisServerProblem(): string | undefined {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'redis-server is not installed (apt-get install -y redis-server)';
  }
}

/** A redis-server of the test's own on a free port, so a test can stop, kill and restart it. */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bw-redis-'));
  let child: ChildProcess | undefined;
  let output = '';
  const tls = options.tls;
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  const url = `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`;
  const clientOptions: RedisOptions = {
    host: '127.0.0.1',
    port,
    ...(options.password && { password: options.password }),
    ...(tls && { tls: { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } }),
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
  };
  const args = [
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
    // A replica syncs at once instead of after the default 5 s wait for others to join it.
    '--repl-diskless-sync-delay',
    '0',
    ...(tls
      ? [
          '--port',
          '0',
          '--tls-port',
          String(port),
          '--tls-cert-file',
          tls.certFile,
          '--tls-key-file',
          tls.keyFile,
          '--tls-ca-cert-file',
          tls.caFile,
          '--tls-auth-clients',
          tls.authClients ? 'yes' : 'no',
          '--tls-replication',
          'yes',
        ]
      : ['--port', String(port)]),
    ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
    ...(options.replicaOf ? ['--replicaof', options.replicaOf.host, String(options.replicaOf.port)] : []),
    ...(options.cluster
      ? [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--cluster-node-timeout',
          String(options.cluster.nodeTimeoutMs),
        ]
      : []),
  ];

  const start = async () => {
    output = '';
    const started = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    for (let i = 0; i < 100; i += 1) {
      if (started.exitCode !== null) break;
      if (await answers(clientOptions)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    started.kill('SIGKILL');
    throw new Error(`private redis-server did not start on port ${port}:\n${output.slice(-2_000)}`);
  };
  const stop = async (hard = false) => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  const dispose = async () => {
    await stop(true);
    await rm(dir, { recursive: true, force: true });
  };
  await start();
  return { port, url, dir, stop, start, dispose, client: () => new Redis(clientOptions), pid: () => child?.pid };
}

/** Whether a server answers PING with these options (loading or not, password or not). */
async function answers(options: RedisOptions): Promise<boolean> {
  const client = new Redis({ ...options, connectTimeout: 500, enableReadyCheck: false });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
