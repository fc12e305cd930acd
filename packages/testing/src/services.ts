import net from 'node:net';
import postgres from 'postgres';

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

  const postgresUrl = await pick('Postgres', env.TEST_DATABASE_URL, LOCAL_POSTGRES, postgresAnswers, async () => {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:16-alpine').start();
    stops.push(async () => void (await container.stop()));
    return container.getConnectionUri();
  }, notes);

  const redisUrl = await pick('Redis', env.TEST_REDIS_URL, LOCAL_REDIS, redisAnswers, async () => {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7-alpine').start();
    stops.push(async () => void (await container.stop()));
    return container.getConnectionUrl();
  }, notes);

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
      `Start it (\`docker compose up -d postgres redis\`, or the local service), ` +
      `or set TEST_DATABASE_URL / TEST_REDIS_URL.`,
  );
}

export async function postgresAnswers(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

export function redisAnswers(url: string, timeoutMs = 1_500): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG') || data.toString().startsWith('-NOAUTH')));
  });
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
