import { readFileSync } from 'node:fs';
import { envFields, z, type EnvProblem } from './env';

/** A `host:port` pair as given in `REDIS_SENTINELS` / `REDIS_CLUSTER_NODES`. */
export interface HostPort {
  host: string;
  port: number;
}

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
    .transform((value, ctx): HostPort[] => {
      const entries = value.split(',').map((entry) => entry.trim());
      const nodes: HostPort[] = [];
      for (const entry of entries) {
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
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        ctx.addIssue({ code: 'custom', message: `must name a readable file (${code})` });
        return z.NEVER;
      }
    });

/**
 * Where and how the apps reach Redis (docs/design.md "Environment"): `REDIS_URL` alone, or with
 * sentinels or cluster seed nodes replacing its host; TLS material for `rediss://`. Spread into
 * an app's shape and pass `checkRedisEnv` to `loadEnv`.
 */
export const redisEnvFields = {
  REDIS_URL: envFields.REDIS_URL,
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
} as const;

/** Ingress only: how many replicas must hold a job (`WAIT`) before it is acknowledged. */
export const REDIS_MIN_REPLICAS_ACK = z.coerce.number().int().min(0).max(16).default(0);

export interface RedisEnv {
  REDIS_URL: string;
  REDIS_SENTINELS?: HostPort[];
  REDIS_SENTINEL_NAME?: string;
  REDIS_CLUSTER_NODES?: HostPort[];
  REDIS_TLS_CA_FILE?: EnvFile;
  REDIS_TLS_CERT_FILE?: EnvFile;
  REDIS_TLS_KEY_FILE?: EnvFile;
  QUEUE_PREFIX?: string;
}

/**
 * The Redis rules across variables: sentinels need their master's name (and the reverse), a
 * cluster has no sentinels and only database 0, TLS files need `rediss://`, a client certificate
 * needs its key, and on a cluster every key of a queue must share one slot, which only a
 * `{hash-tag}` in `QUEUE_PREFIX` guarantees (BullMQ's scripts touch several keys at once).
 */
export function checkRedisEnv(env: RedisEnv): EnvProblem[] {
  const problems: EnvProblem[] = [];
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
  const url = new URL(env.REDIS_URL);
  if (env.REDIS_CLUSTER_NODES && url.pathname.length > 1 && url.pathname !== '/0') {
    problems.push({
      name: 'REDIS_URL',
      problem: `must not select a database (${url.pathname}) with REDIS_CLUSTER_NODES: a cluster has only database 0`,
    });
  }
  if (env.REDIS_CLUSTER_NODES && env.QUEUE_PREFIX !== undefined && !hasHashTag(env.QUEUE_PREFIX)) {
    problems.push({
      name: 'QUEUE_PREFIX',
      problem:
        "must contain a {hash-tag}, such as {billing}, when REDIS_CLUSTER_NODES is set, so that all of a queue's keys live in one cluster slot",
    });
  }
  for (const name of ['REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE'] as const) {
    if (env[name] && url.protocol !== 'rediss:') {
      problems.push({ name, problem: 'needs a rediss:// REDIS_URL (TLS); REDIS_URL starts with redis://' });
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
