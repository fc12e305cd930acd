/** A `host:port` of a sentinel or a cluster seed node. */
export interface RedisNode {
  host: string;
  port: number;
}

/** TLS material for `rediss://`, beyond the CAs Node already trusts. */
export interface RedisTlsFiles {
  /** A private CA (PEM) to verify the servers with; replaces the default trust store. */
  ca?: Buffer | string;
  /** A client certificate (PEM), for servers with `tls-auth-clients yes`. */
  cert?: Buffer | string;
  /** The client certificate's private key (PEM). */
  key?: Buffer | string;
}

/**
 * Where and how to reach Redis, as the environment describes it (docs/design.md "Environment").
 * `url` always carries the credentials, the database and TLS (`rediss://`); its host is the
 * server only when neither `sentinels` nor `clusterNodes` is given.
 */
export interface RedisConfig {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  url: string;
  /** Redis Sentinel: where the sentinels are and the name of the master they monitor. */
  sentinels?: { nodes: RedisNode[]; name: string };
  /** Redis Cluster: seed nodes (any of them; the rest is discovered). */
  clusterNodes?: RedisNode[];
  tls?: RedisTlsFiles;
}

/** `'standalone'`, `'sentinel'` or `'cluster'`. */
export function redisTopology(config: RedisConfig): 'standalone' | 'sentinel' | 'cluster' {
  if (config.clusterNodes) return 'cluster';
  if (config.sentinels) return 'sentinel';
  return 'standalone';
}

/** Where Redis is, for messages and logs; never the credentials. */
export function describeRedis(config: RedisConfig | string): string {
  const { url, sentinels, clusterNodes } = typeof config === 'string' ? { url: config } : config;
  const list = (nodes: RedisNode[]) => nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  const tls = url.startsWith('rediss:') ? ' (TLS)' : '';
  if (clusterNodes) return `cluster ${list(clusterNodes)}${tls}`;
  if (sentinels) return `master "${sentinels.name}" via sentinels ${list(sentinels.nodes)}${tls}`;
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || '127.0.0.1'}:${parsed.port || 6379}${tls}`;
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/**
 * Whether every key under `prefix` hashes to one cluster slot: Redis hashes only what is between
 * the first `{` and the next `}` when that is non-empty, so both must be inside the prefix.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  if (open === -1) return false;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1;
}
