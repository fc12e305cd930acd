import net from 'node:net';
import postgres from 'postgres';

/** What to run when Postgres or Redis does not answer (DEVELOPERS.md "Services"). */
export const START_SERVICES_HINT = [
  'Start them with Docker:  docker compose up -d postgres redis',
  'or, without Docker (the team machines, see DEVELOPERS.md):',
  '  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  '  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
].join('\n');

/** `host:port` of a URL, for messages (never the credentials). */
export function where(url: string, defaultPort: number): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname || '127.0.0.1'}:${parsed.port || defaultPort}`;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Whether a Postgres server answers at `url`'s host. Connects to the `postgres` maintenance
 * database, since the target database may not exist yet (migrate creates it).
 * Resolves with `undefined` when it answers, or a one-line reason.
 */
export async function postgresProblem(url: string, timeoutSeconds = 3): Promise<string | undefined> {
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const sql = postgres(maintenance.toString(), { max: 1, connect_timeout: timeoutSeconds, onnotice: () => {} });
  try {
    await sql`select 1`;
    return undefined;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    return `${code ?? ''} ${message ?? String(error)}`.trim().split('\n')[0];
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Whether Redis answers PING at `url` (raw socket: no client retries to wait for). */
export function redisProblem(url: string, timeoutMs = 2_000): Promise<string | undefined> {
  const { hostname, port, password, username } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.once('connect', () => {
      const auth = password ? `AUTH ${username ? `${decodeURIComponent(username)} ` : ''}${decodeURIComponent(password)}\r\n` : '';
      socket.write(`${auth}PING\r\n`);
    });
    let seen = '';
    socket.on('data', (data) => {
      seen += data.toString();
      if (seen.includes('+PONG')) done(undefined);
      else if (seen.startsWith('-')) done(seen.split('\r\n')[0]);
    });
  });
}

/** One message naming what does not answer and what to start; `undefined` when both answer. */
export async function servicesProblem(databaseUrl: string | undefined, redisUrl: string | undefined): Promise<string | undefined> {
  const [pg, redis] = await Promise.all([
    databaseUrl === undefined ? undefined : postgresProblem(databaseUrl),
    redisUrl === undefined ? undefined : redisProblem(redisUrl),
  ]);
  const down = [
    ...(pg && databaseUrl ? [`Postgres is not answering at ${where(databaseUrl, 5432)} (${pg})`] : []),
    ...(redis && redisUrl ? [`Redis is not answering at ${where(redisUrl, 6379)} (${redis})`] : []),
  ];
  if (down.length === 0) return undefined;
  return `${down.join('; ')}.\n${START_SERVICES_HINT}`;
}
