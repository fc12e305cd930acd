import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EnvError, loadEnv } from '@billing/runtime/env';
import { checkQueueEnv, queueConfigFromEnv, queueEnvFields, REDIS_MIN_REPLICAS_ACK } from './queue-env';

const shape = { ...queueEnvFields, REDIS_MIN_REPLICAS_ACK };
const load = (source: Record<string, string>) => loadEnv(shape, source, checkQueueEnv);
const dir = mkdtempSync(join(tmpdir(), 'bw-redis-env-'));
const file = (name: string, contents: string) => {
  const path = join(dir, name);
  writeFileSync(path, contents);
  return path;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the queue backend', () => {
  it.each([
    [{}, { backend: 'postgres', url: 'postgres://postgres:postgres@127.0.0.1:5432/billing', schema: 'bullmq' }],
    [{ DATABASE_URL: 'postgres://u:p@db:5432/app' }, { backend: 'postgres', url: 'postgres://u:p@db:5432/app', schema: 'bullmq' }],
    [
      { DATABASE_URL: 'postgres://u:p@db:5432/app', QUEUE_DATABASE_URL: 'postgres://q@qdb/jobs', QUEUE_SCHEMA: 'jobs' },
      { backend: 'postgres', url: 'postgres://q@qdb/jobs', schema: 'jobs' },
    ],
    [{ REDIS_URL: 'redis://r:6379' }, { backend: 'redis', prefix: 'bull', redis: { url: 'redis://r:6379' } }],
    [
      { REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm' },
      { backend: 'redis', redis: { url: 'redis://127.0.0.1:6379', sentinels: { name: 'm', nodes: [{ host: 's1', port: 26379 }] } } },
    ],
    [
      { REDIS_CLUSTER_NODES: 'n1:7000', QUEUE_PREFIX: '{b}' },
      { backend: 'redis', prefix: '{b}', redis: { clusterNodes: [{ host: 'n1', port: 7000 }] } },
    ],
    [
      { REDIS_URL: 'redis://r:6379', QUEUE_BACKEND: 'postgres' },
      { backend: 'postgres', schema: 'bullmq' },
    ],
  ])('%o → %o', (source, config) => {
    expect(queueConfigFromEnv(load(source))).toMatchObject(config);
  });

  it.each([
    [
      { QUEUE_BACKEND: 'redis' },
      'QUEUE_BACKEND is redis, but none of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is set (got "redis")',
    ],
    [{ QUEUE_BACKEND: 'kafka' }, 'QUEUE_BACKEND must be one of redis, postgres (got "kafka")'],
    [
      { REDIS_MIN_REPLICAS_ACK: '1' },
      'REDIS_MIN_REPLICAS_ACK applies to the Redis queue backend only; on Postgres an acknowledged job is a commit (configure synchronous replication on the server) (got "1")',
    ],
    [{ QUEUE_SCHEMA: 'Bull-MQ' }, 'QUEUE_SCHEMA must be a lower-case Postgres identifier (letters, digits, _; at most 63) (got "Bull-MQ")'],
    [
      { QUEUE_DATABASE_URL: 'mysql://db' },
      'QUEUE_DATABASE_URL must be a URL starting with postgres:// or postgresql:// (got "mysql://db")',
    ],
  ])('%o → one line naming the variable', (source, line) => {
    expect(() => load(source)).toThrow(new EnvError(line));
  });
});

describe('Redis environment', () => {
  it('parses sentinels and cluster seeds as host:port lists (IPv6 in brackets)', () => {
    expect(load({ REDIS_SENTINELS: 's1:26379, [::1]:26380,10.0.0.3:26381', REDIS_SENTINEL_NAME: 'billing-master' })).toMatchObject({
      REDIS_SENTINELS: [
        { host: 's1', port: 26379 },
        { host: '::1', port: 26380 },
        { host: '10.0.0.3', port: 26381 },
      ],
      REDIS_SENTINEL_NAME: 'billing-master',
    });
    expect(load({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: '{billing}' }).REDIS_CLUSTER_NODES).toEqual([
      { host: '127.0.0.1', port: 7000 },
    ]);
  });

  it('reads the TLS files at start', () => {
    const env = load({
      REDIS_URL: 'rediss://redis.internal:6380',
      REDIS_TLS_CA_FILE: file('ca.pem', 'CA PEM'),
      REDIS_TLS_CERT_FILE: file('client.pem', 'CERT PEM'),
      REDIS_TLS_KEY_FILE: file('client.key', 'KEY PEM'),
    });
    expect(env.REDIS_TLS_CA_FILE?.contents.toString()).toBe('CA PEM');
    expect(env.REDIS_TLS_CERT_FILE?.contents.toString()).toBe('CERT PEM');
    expect(env.REDIS_TLS_KEY_FILE?.contents.toString()).toBe('KEY PEM');
  });

  it.each([
    [{ REDIS_SENTINELS: 's1' }, 'REDIS_SENTINELS must be comma-separated host:port pairs (bad entry "s1") (got "s1")'],
    [
      { REDIS_SENTINELS: 's1:26379,,s2:26379' },
      'REDIS_SENTINELS must be comma-separated host:port pairs (bad entry "") (got "s1:26379,,s2:26379")',
    ],
    [
      { REDIS_CLUSTER_NODES: 'n1:99999', QUEUE_PREFIX: '{b}' },
      'REDIS_CLUSTER_NODES must be comma-separated host:port pairs (bad entry "n1:99999") (got "n1:99999")',
    ],
    [
      { REDIS_SENTINELS: 's1:26379' },
      'REDIS_SENTINEL_NAME is required when REDIS_SENTINELS is set (the name of the master the sentinels monitor)',
    ],
    [
      { REDIS_SENTINEL_NAME: 'mymaster' },
      'REDIS_SENTINELS is required when REDIS_SENTINEL_NAME is set (comma-separated host:port of the sentinels) ',
    ],
    [
      { REDIS_CLUSTER_NODES: 'n1:7000' },
      "QUEUE_PREFIX must contain a {hash-tag}, such as {billing}, when REDIS_CLUSTER_NODES is set, so that all of a queue's keys live in one cluster slot",
    ],
    [
      { REDIS_CLUSTER_NODES: 'n1:7000', QUEUE_PREFIX: 'bull{}' },
      'QUEUE_PREFIX must contain a {hash-tag}, such as {billing}, when REDIS_CLUSTER_NODES is set, so that all of a queue\'s keys live in one cluster slot (got "bull{}")',
    ],
    [
      { REDIS_CLUSTER_NODES: 'n1:7000', QUEUE_PREFIX: '{b}', REDIS_SENTINELS: 's:1', REDIS_SENTINEL_NAME: 'm' },
      'REDIS_CLUSTER_NODES cannot be combined with REDIS_SENTINELS: a Redis Cluster fails over by itself, without sentinels (got "n1:7000")',
    ],
    [
      { REDIS_CLUSTER_NODES: 'n1:7000', QUEUE_PREFIX: '{b}', REDIS_URL: 'redis://:pw@n1:7000/2' },
      'REDIS_URL must not select a database (/2) with REDIS_CLUSTER_NODES: a cluster has only database 0 (got "redis://***@n1:7000/2")',
    ],
    [
      { REDIS_TLS_CA_FILE: join(dir, 'missing.pem'), REDIS_URL: 'rediss://h' },
      `REDIS_TLS_CA_FILE must name a readable file (ENOENT) (got "${join(dir, 'missing.pem')}")`,
    ],
    [{ REDIS_TLS_KEY_FILE: dir, REDIS_URL: 'rediss://h' }, `REDIS_TLS_KEY_FILE must name a readable file (EISDIR) (got "${dir}")`],
  ])('%o → one line naming the variable', (source, line) => {
    expect(() => load(source)).toThrow(EnvError);
    expect(() => load(source)).toThrow(new EnvError(line.trimEnd()));
  });

  it('names each TLS file given without rediss://, and a certificate without its key', () => {
    const ca = file('ca2.pem', 'CA');
    const cert = file('c2.pem', 'CERT');
    expect(() => load({ REDIS_URL: 'redis://h', REDIS_TLS_CA_FILE: ca })).toThrow(
      new EnvError(`REDIS_TLS_CA_FILE needs a rediss:// REDIS_URL (TLS) (got "${ca}")`),
    );
    expect(() => load({ REDIS_URL: 'rediss://h', REDIS_TLS_CERT_FILE: cert })).toThrow(
      new EnvError("REDIS_TLS_KEY_FILE is required with REDIS_TLS_CERT_FILE (the client certificate's private key)"),
    );
  });

  it.each([
    ['{billing}', true],
    ['bull:{billing}', true],
    ['{billing', false],
    ['bull', false],
    ['{}billing', false],
    ['}{billing}', true],
  ])('a cluster prefix %s has a hash tag: %s', (prefix, ok) => {
    const problems = checkQueueEnv({
      ...load({}),
      REDIS_URL: 'redis://h',
      REDIS_CLUSTER_NODES: [{ host: 'h', port: 1 }],
      QUEUE_PREFIX: prefix,
    });
    expect(problems.length === 0).toBe(ok);
  });
});
