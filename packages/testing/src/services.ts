import { postgresProblem } from '@billing/db/postgres-probe';
import { redisProblem } from '@billing/queue';

/** Where the test suite finds Postgres and Redis. */
export interface TestServices {
  /** A Postgres URL with rights to create databases (its own database is not used by tests). */
  adminDatabaseUrl: string;
  redisUrl: string;
  describe: string;
  stop: () => Promise<void>;
}

const LOCAL_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS = 'redis://127.0.0.1:6379';

/**
 * In order: `TEST_DATABASE_URL` / `TEST_REDIS_URL`; the local defaults if they answer;
 * testcontainers when a Docker engine is reachable; otherwise one message saying what to start.
 */
export async function resolveTestServices(env: Record<string, string | undefined> = process.env): Promise<TestServices> {
  const stops: Array<() => Promise<void>> = [];
  const notes: string[] = [];

  const postgresUrl = await pick(
    'Postgres',
    env.TEST_DATABASE_URL,
    LOCAL_POSTGRES,
    postgresAnswers,
    async () => {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:16-alpine').start();
      stops.push(async () => void (await container.stop()));
      return container.getConnectionUri();
    },
    notes,
  );

  const redisUrl = await pick(
    'Redis',
    env.TEST_REDIS_URL,
    LOCAL_REDIS,
    redisAnswers,
    async () => {
      const { RedisContainer } = await import('@testcontainers/redis');
      const container = await new RedisContainer('redis:7-alpine').start();
      stops.push(async () => void (await container.stop()));
      return container.getConnectionUrl();
    },
    notes,
  );

  return {
    adminDatabaseUrl: postgresUrl,
    redisUrl,
    describe: notes.join('; '),
    stop: async () => {
      for (const stop of stops) await stop();
    },
  };
}

async function pick(
  what: string,
  given: string | undefined,
  local: string,
  answers: (url: string) => Promise<boolean>,
  startContainer: () => Promise<string>,
  notes: string[],
): Promise<string> {
  if (given) {
    if (await answers(given)) {
      notes.push(`${what} from TEST_${what === 'Redis' ? 'REDIS' : 'DATABASE'}_URL`);
      return given;
    }
    throw new Error(`${what} does not answer at ${redact(given)} (from the environment). Start it, or unset the variable.`);
  }
  if (await answers(local)) {
    notes.push(`${what} at ${redact(local)}`);
    return local;
  }
  if (await dockerReachable()) {
    notes.push(`${what} in a testcontainer`);
    return startContainer();
  }
  throw new Error(
    `${what} is not reachable at ${redact(local)} and no Docker engine is available for testcontainers. ` +
      `Start it (\`docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d postgres redis\`, or the local service), ` +
      `or set TEST_DATABASE_URL / TEST_REDIS_URL.`,
  );
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
