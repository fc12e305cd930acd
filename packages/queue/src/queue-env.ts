import { readFileSync } from 'node:fs';
import { notificationQueueName } from './notification-queue';
import { envFields, z, type EnvProblem } from '@billing/runtime/env';
import { DEFAULT_QUEUE_NAME, DEFAULT_QUEUE_PREFIX } from './contract';
import { DEFAULT_QUEUE_SCHEMA, type QueueConfig } from './queue-config';
import { hasHashTag, type RedisNode } from './redis/redis-config';

/** A file named by a `…_FILE` variable, read once at start. */
export interface EnvFile {
  path: string;
  contents: Buffer;
}

/** `host:port` or `[ipv6]:port`. */
const HOST_PORT = /^(?:\[([0-9a-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/i;

const hostPortList = () =>
  z
    .string()
    .trim()
    .transform((value, ctx): RedisNode[] => {
      const nodes: RedisNode[] = [];
      for (const entry of value.split(',').map((e) => e.trim())) {
        const match = HOST_PORT.exec(entry);
        const port = Number(match?.[3]);
        if (!match || port < 1 || port > 65535) {
          ctx.addIssue({ code: 'custom', message: `must be comma-separated host:port pairs (bad entry "${entry.slice(0, 60)}")` });
          return z.NEVER;
        }
        nodes.push({ host: (match[1] ?? match[2]) as string, port });
      }
      return nodes;
    });

/** A path to a file that must be readable now: a missing certificate stops the process at start, not at the first connection. */
const readableFile = () =>
  z
    .string()
    .trim()
    .transform((path, ctx): EnvFile => {
      try {
        return { path, contents: readFileSync(path) };
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `must name a readable file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        });
        return z.NEVER;
      }
    });

const redisUrl = z
  .string()
  .trim()
  .refine((value) => /^rediss?:$/.test(safeProtocol(value)), { message: 'must be a URL starting with redis:// or rediss://' });

/**
 * Where the queue lives, as every process reads it (docs/design.md "Environment"): the backend,
 * the Postgres database and schema of the Postgres backend, and Redis — `REDIS_URL` alone, or with
 * sentinels or cluster seed nodes replacing its host, TLS material for `rediss://`. Spread into an
 * app's shape and pass `checkQueueEnv` to `loadEnv`; `queueConfigFromEnv` turns the result into a
 * `QueueConfig`.
 */
export const queueEnvFields = {
  /** `redis` when a Redis variable is set, else `postgres` (decided in `queueConfigFromEnv`). */
  QUEUE_BACKEND: z.enum(['redis', 'postgres']).optional(),
  DATABASE_URL: envFields.DATABASE_URL,
  /** The Postgres backend's database; `DATABASE_URL` when unset. */
  QUEUE_DATABASE_URL: z
    .string()
    .trim()
    .refine((value) => /^postgres(ql)?:$/.test(safeProtocol(value)), {
      message: 'must be a URL starting with postgres:// or postgresql://',
    })
    .optional(),
  QUEUE_SCHEMA: z
    .string()
    .trim()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'must be a lower-case Postgres identifier (letters, digits, _; at most 63)' })
    .default(DEFAULT_QUEUE_SCHEMA),
  REDIS_URL: redisUrl.optional(),
  REDIS_SENTINELS: hostPortList().optional(),
  REDIS_SENTINEL_NAME: z
    .string()
    .trim()
    .regex(/^[\w.-]+$/, { message: 'must be the master name the sentinels monitor (letters, digits, ".", "-", "_")' })
    .optional(),
  REDIS_CLUSTER_NODES: hostPortList().optional(),
  REDIS_TLS_CA_FILE: readableFile().optional(),
  REDIS_TLS_CERT_FILE: readableFile().optional(),
  REDIS_TLS_KEY_FILE: readableFile().optional(),
  QUEUE_NAME: envFields.QUEUE_NAME,
  QUEUE_PREFIX: envFields.QUEUE_PREFIX,
} as const;

/** Ingress only: how many Redis replicas must hold a job (`WAIT`) before it is acknowledged. */
export const REDIS_MIN_REPLICAS_ACK = z.coerce.number().int().min(0).max(16).default(0);

export interface QueueEnv {
  QUEUE_BACKEND?: 'redis' | 'postgres';
  DATABASE_URL: string;
  QUEUE_DATABASE_URL?: string;
  QUEUE_SCHEMA: string;
  REDIS_URL?: string;
  REDIS_SENTINELS?: RedisNode[];
  REDIS_SENTINEL_NAME?: string;
  REDIS_CLUSTER_NODES?: RedisNode[];
  REDIS_TLS_CA_FILE?: EnvFile;
  REDIS_TLS_CERT_FILE?: EnvFile;
  REDIS_TLS_KEY_FILE?: EnvFile;
  QUEUE_NAME: string;
  QUEUE_PREFIX: string;
  REDIS_MIN_REPLICAS_ACK?: number;
}

/** The backend the environment chooses: `QUEUE_BACKEND`, else `redis` when a Redis variable is set, else `postgres`. */
export function queueBackendOf(env: Pick<QueueEnv, 'QUEUE_BACKEND' | 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES'>) {
  return env.QUEUE_BACKEND ?? (hasRedisVariable(env) ? 'redis' : 'postgres');
}

function hasRedisVariable(env: Pick<QueueEnv, 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES'>): boolean {
  return env.REDIS_URL !== undefined || env.REDIS_SENTINELS !== undefined || env.REDIS_CLUSTER_NODES !== undefined;
}

/**
 * The rules across variables. The backend: `QUEUE_BACKEND=redis` needs a Redis variable, and the
 * Redis-only `REDIS_MIN_REPLICAS_ACK` needs Redis. Redis: sentinels need their master's name (and
 * the reverse), a cluster has no sentinels and only database 0, TLS files need `rediss://`, a client
 * certificate needs its key, and on a cluster every key of a queue must share one slot, which only
 * a `{hash-tag}` in `QUEUE_PREFIX` guarantees (BullMQ's scripts touch several keys at once).
 */
export function checkQueueEnv(env: QueueEnv): EnvProblem[] {
  const problems: EnvProblem[] = [];
  const backend = queueBackendOf(env);
  if (env.QUEUE_BACKEND === 'redis' && !hasRedisVariable(env)) {
    problems.push({ name: 'QUEUE_BACKEND', problem: 'is redis, but none of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is set' });
  }
  if (backend === 'postgres' && (env.REDIS_MIN_REPLICAS_ACK ?? 0) > 0) {
    problems.push({
      name: 'REDIS_MIN_REPLICAS_ACK',
      problem:
        'applies to the Redis queue backend only; on Postgres an acknowledged job is a commit (configure synchronous replication on the server)',
    });
  }
  if (env.REDIS_SENTINELS && !env.REDIS_SENTINEL_NAME) {
    problems.push({
      name: 'REDIS_SENTINEL_NAME',
      problem: 'is required when REDIS_SENTINELS is set (the name of the master the sentinels monitor)',
    });
  }
  if (env.REDIS_SENTINEL_NAME && !env.REDIS_SENTINELS) {
    problems.push({
      name: 'REDIS_SENTINELS',
      problem: 'is required when REDIS_SENTINEL_NAME is set (comma-separated host:port of the sentinels)',
    });
  }
  if (env.REDIS_CLUSTER_NODES && env.REDIS_SENTINELS) {
    problems.push({
      name: 'REDIS_CLUSTER_NODES',
      problem: 'cannot be combined with REDIS_SENTINELS: a Redis Cluster fails over by itself, without sentinels',
    });
  }
  const url = env.REDIS_URL === undefined ? undefined : new URL(env.REDIS_URL);
  if (env.REDIS_CLUSTER_NODES && url && url.pathname.length > 1 && url.pathname !== '/0') {
    problems.push({
      name: 'REDIS_URL',
      problem: `must not select a database (${url.pathname}) with REDIS_CLUSTER_NODES: a cluster has only database 0`,
    });
  }
  if (backend === 'redis' && env.REDIS_CLUSTER_NODES && !hasHashTag(env.QUEUE_PREFIX)) {
    problems.push({
      name: 'QUEUE_PREFIX',
      problem:
        "must contain a {hash-tag}, such as {billing}, when REDIS_CLUSTER_NODES is set, so that all of a queue's keys live in one cluster slot",
    });
  }
  for (const name of ['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'] as const) {
    if (env[name] && url?.protocol !== 'rediss:') {
      problems.push({ name, problem: 'needs a rediss:// REDIS_URL (TLS)' });
    }
  }
  if (env.REDIS_TLS_CERT_FILE && !env.REDIS_TLS_KEY_FILE) {
    problems.push({ name: 'REDIS_TLS_KEY_FILE', problem: "is required with REDIS_TLS_CERT_FILE (the client certificate's private key)" });
  }
  if (env.REDIS_TLS_KEY_FILE && !env.REDIS_TLS_CERT_FILE) {
    problems.push({ name: 'REDIS_TLS_CERT_FILE', problem: 'is required with REDIS_TLS_KEY_FILE (the client certificate)' });
  }
  return problems;
}

/** The queue's location from a checked environment (`checkQueueEnv` passed). */
export function queueConfigFromEnv(env: QueueEnv): QueueConfig {
  if (queueBackendOf(env) === 'postgres') {
    return { backend: 'postgres', url: env.QUEUE_DATABASE_URL ?? env.DATABASE_URL, schema: env.QUEUE_SCHEMA };
  }
  return {
    backend: 'redis',
    prefix: env.QUEUE_PREFIX ?? DEFAULT_QUEUE_PREFIX,
    redis: {
      // Sentinels and cluster nodes replace the URL's host; it still carries credentials, database and TLS.
      url: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      ...(env.REDIS_SENTINELS && env.REDIS_SENTINEL_NAME && { sentinels: { nodes: env.REDIS_SENTINELS, name: env.REDIS_SENTINEL_NAME } }),
      ...(env.REDIS_CLUSTER_NODES && { clusterNodes: env.REDIS_CLUSTER_NODES }),
      ...((env.REDIS_TLS_CA_FILE || env.REDIS_TLS_CERT_FILE || env.REDIS_TLS_KEY_FILE) && {
        tls: {
          ...(env.REDIS_TLS_CA_FILE && { ca: env.REDIS_TLS_CA_FILE.contents }),
          ...(env.REDIS_TLS_CERT_FILE && { cert: env.REDIS_TLS_CERT_FILE.contents }),
          ...(env.REDIS_TLS_KEY_FILE && { key: env.REDIS_TLS_KEY_FILE.contents }),
        },
      }),
    },
  };
}

/** The name of the events queue and of the notifications queue beside it. */
export function queueNamesFromEnv(env: Pick<QueueEnv, 'QUEUE_NAME'>): { events: string; notifications: string } {
  const events = env.QUEUE_NAME ?? DEFAULT_QUEUE_NAME;
  return { events, notifications: notificationQueueName(events) };
}

function safeProtocol(value: string): string {
  try {
    return new URL(value).protocol;
  } catch {
    return '';
  }
}
