import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisConfig } from './redis-config';

/** A connection to standalone Redis, to the master behind Sentinel, or to a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

export function isCluster(connection: RedisConnection): connection is Cluster {
  return (connection as Cluster).isCluster === true;
}

export interface ProducerConnectionOptions {
  /**
   * Upper bound for one Redis command, and for connecting.
   * @defaultValue 2000
   */
  timeoutMs?: number;
}

/**
 * Connection for producers that answer HTTP (the ingress): fail fast instead of queueing
 * commands while Redis is away, so a request turns into a 503 within the bound; reconnects
 * by itself forever, so the process recovers when Redis returns, and follows a new primary
 * after a failover (Sentinel's switch-master, or a `READONLY` answer from a demoted one).
 */
export function producerConnection(config: string, options?: ProducerConnectionOptions): Redis;
export function producerConnection(config: RedisConfig, options?: ProducerConnectionOptions): RedisConnection;
export function producerConnection(config: RedisConfig | string, options: ProducerConnectionOptions = {}): RedisConnection {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const backoff = errorReplyBackoff(PRODUCER_RECONNECT_ON, { firstMs: 100, capMs: 1_000 });
  return connect(normalise(config), {
    node: {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      retryStrategy: backoff.retryStrategy,
      reconnectOnError: backoff.reconnectOnError,
    },
    cluster: { enableOfflineQueue: false, clusterRetryStrategy: (times) => Math.min(100 * times, 1_000) },
    sentinelTimeoutMs: timeoutMs,
  });
}

/**
 * Connection for workers and other long-lived consumers: BullMQ requires
 * `maxRetriesPerRequest: null` for blocking commands; commands wait for a reconnect. An error
 * answer that says this node cannot serve us now (a demoted primary, a full or unpersistable
 * server) reconnects with a growing delay, so the worker neither spins on it (BullMQ fetches
 * again at once after such an error) nor floods the log.
 */
export function workerConnection(config: string): Redis;
export function workerConnection(config: RedisConfig): RedisConnection;
export function workerConnection(config: RedisConfig | string): RedisConnection {
  const backoff = errorReplyBackoff(WORKER_RECONNECT_ON, { firstMs: 200, capMs: 2_000 });
  return connect(normalise(config), {
    node: { maxRetriesPerRequest: null, retryStrategy: backoff.retryStrategy, reconnectOnError: backoff.reconnectOnError },
    cluster: { clusterRetryStrategy: (times) => Math.min(200 * times, 2_000) },
    sentinelTimeoutMs: 5_000,
  });
}

/**
 * Error replies after which this connection reconnects. `READONLY`: the node was a primary and
 * is a replica now; reconnecting asks the sentinels (or the DNS of a managed endpoint) for the
 * new one. A producer stops there: any other error is the request's 503.
 */
const PRODUCER_RECONNECT_ON = /^READONLY\b/;
/**
 * A worker also backs off on a full server (`OOM`, with `noeviction`), one that cannot persist
 * (`MISCONF`), a replica that lost its primary (`MASTERDOWN`) and `min-replicas-to-write`
 * refusals (`NOREPLICAS`): each would otherwise fail every fetch, thousands a second.
 */
const WORKER_RECONNECT_ON = /^(READONLY|OOM|MISCONF|MASTERDOWN|NOREPLICAS)\b/;
/** A connection that saw none of those for this long starts its backoff from the first step again. */
const ERROR_STREAK_RESET_MS = 30_000;

/**
 * `reconnectOnError` and `retryStrategy` sharing one streak: ioredis resets its own retry count
 * once a reconnect succeeds, so a node that answers every command with `READONLY` would be
 * reconnected to at the first step forever. Here each error-triggered reconnect waits twice as
 * long as the previous one, up to `capMs`; connection losses keep the usual linear steps.
 * ioredis calls both as methods of the connection's own options object, which `duplicate()`
 * copies (BullMQ's blocking connection), so the streak is kept per options object.
 */
function errorReplyBackoff(reconnectOn: RegExp, steps: { firstMs: number; capMs: number }) {
  const streaks = new WeakMap<object, { streak: number; lastErrorAt: number; causedByError: boolean }>();
  const unbound = {};
  const stateOf = (options: object | undefined) => {
    const key = options ?? unbound;
    let state = streaks.get(key);
    if (!state) {
      state = { streak: 0, lastErrorAt: 0, causedByError: false };
      streaks.set(key, state);
    }
    return state;
  };
  return {
    reconnectOnError(this: object | undefined, error: Error): 1 | false {
      if (!reconnectOn.test(error.message)) return false;
      const state = stateOf(this);
      const now = Date.now();
      state.streak = now - state.lastErrorAt > ERROR_STREAK_RESET_MS ? 1 : state.streak + 1;
      state.lastErrorAt = now;
      state.causedByError = true;
      return 1;
    },
    retryStrategy(this: object | undefined, times: number): number {
      const state = stateOf(this);
      if (state.causedByError) {
        state.causedByError = false;
        return Math.min(steps.capMs, steps.firstMs * 2 ** (state.streak - 1));
      }
      return Math.min(steps.capMs, steps.firstMs * times);
    },
  };
}

interface RoleOptions {
  node: RedisOptions;
  cluster: Omit<ClusterOptions, 'redisOptions'>;
  /** Bound for asking a sentinel where the master is. */
  sentinelTimeoutMs: number;
}

function normalise(config: RedisConfig | string): RedisConfig {
  return typeof config === 'string' ? { url: config } : config;
}

function connect(config: RedisConfig, role: RoleOptions): RedisConnection {
  const { tls, credentials } = fromUrl(config);
  if (config.clusterNodes) {
    // The cluster reconnects its nodes itself (a lost node is dropped and found again through
    // MOVED and a slots refresh); a node's own retry or reconnect-on-error would fight that.
    const { retryStrategy: _retry, reconnectOnError: _reconnect, ...node } = role.node;
    return new Cluster(config.clusterNodes, {
      ...role.cluster,
      redisOptions: { ...node, ...credentials, ...(tls && { tls }) },
      // Cluster nodes announce IPs; with TLS, check the certificate against the seed's name
      // instead of failing on an IP (ioredis README, "AWS ElastiCache Clusters with TLS").
      ...(tls && { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) }),
    });
  }
  if (config.sentinels) {
    const connection = new Redis({
      ...role.node,
      ...credentials,
      sentinels: config.sentinels.nodes,
      name: config.sentinels.name,
      // TLS to the data nodes, and to the sentinels themselves: a TLS deployment runs both on TLS.
      ...(tls && { tls, enableTLSForSentinelMode: true, sentinelTLS: tls }),
      // Subscribes to the sentinels' +switch-master and reconnects at once, instead of waiting
      // for the old primary to fail a command or drop the connection.
      failoverDetector: true,
      sentinelCommandTimeout: role.sentinelTimeoutMs,
      sentinelRetryStrategy: (times) => Math.min(100 * times, 1_000),
    });
    reviveWhenStranded(connection);
    return connection;
  }
  return new Redis(config.url, { ...role.node, ...(tls && { tls }) });
}

/**
 * ioredis ends a Sentinel connection for good when it is closed while it is still asking the
 * sentinels where the master is: the failover detector of the previous connection does exactly
 * that when +switch-master arrives during a reconnect (a SIGKILLed primary: the client is
 * reconnecting while the sentinels still name the dead one), and the connection then answers
 * "Connection is closed" forever (the same ioredis behaviour as taskforcesh/bullmq#4378, there
 * for BullMQ's blocking connection). Measured in tests/topologies: an ingress answering 503 for
 * good after a failover. So a connection that ends without our asking connects again.
 */
function reviveWhenStranded(connection: Redis): void {
  let closing = false;
  const disconnect = connection.disconnect.bind(connection);
  connection.disconnect = (reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  };
  const quit = connection.quit.bind(connection) as () => Promise<'OK'>;
  connection.quit = (() => {
    closing = true;
    return quit();
  }) as Redis['quit'];
  connection.on('end', () => {
    if (closing) return;
    setTimeout(() => {
      if (!closing && connection.status === 'end') connection.connect().catch(() => {});
    }, 200).unref();
  });
}

/** TLS options (for `rediss://`) and credentials/database, from the URL and the TLS files. */
function fromUrl(config: RedisConfig): { tls?: TlsOptions; credentials: Pick<RedisOptions, 'username' | 'password' | 'db'> } {
  const url = new URL(config.url);
  const tls = url.protocol === 'rediss:' ? { ...config.tls } : undefined;
  const database = Number(url.pathname.slice(1) || 0);
  return {
    tls,
    credentials: {
      ...(url.username && { username: decodeURIComponent(url.username) }),
      ...(url.password && { password: decodeURIComponent(url.password) }),
      ...(database > 0 && { db: database }),
    },
  };
}
