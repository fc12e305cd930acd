import { postgresProblem } from '@billing/db/postgres-probe';
import { redisProblem } from '@billing/queue';
import { z } from '@billing/runtime/env';

/**
 * DATABASE_URL where its absence means something (npm start: the embedded profile; demo: the
 * embedded profile's URL): `envFields.DATABASE_URL` would fill in its default.
 */
export const optionalDatabaseUrl = z
  .string()
  .trim()
  .optional()
  .refine((value) => value === undefined || /^postgres(ql)?:\/\/./.test(value), {
    message: 'must be a URL starting with postgres:// or postgresql://',
  });

/** What to run when Postgres or Redis does not answer (DEVELOPERS.md "Services"). */
export const START_SERVICES_HINT = [
  'Start them with Docker (passwords and URLs: docker-compose.dev.yml):',
  '  docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d postgres redis',
  'or, without Docker (the team machines, see DEVELOPERS.md):',
  '  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  '  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no',
  'or, with nothing installed, leave DATABASE_URL and the Redis variables unset: `npm start` then runs an embedded Postgres under .local/.',
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
 * Whether a Postgres server answers at `url`'s host. Asks the `postgres` maintenance database,
 * since the target database may not exist yet (migrate creates it).
 */
export function postgresServerProblem(url: string): Promise<string | undefined> {
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  return postgresProblem(maintenance.toString());
}

/** One message naming what does not answer and what to start; `undefined` when both answer. */
export async function servicesProblem(databaseUrl: string | undefined, redisUrl: string | undefined): Promise<string | undefined> {
  const [pg, redis] = await Promise.all([
    databaseUrl === undefined ? undefined : postgresServerProblem(databaseUrl),
    redisUrl === undefined ? undefined : redisProblem(redisUrl),
  ]);
  const down = [
    ...(pg && databaseUrl ? [`Postgres is not answering at ${where(databaseUrl, 5432)} (${pg})`] : []),
    ...(redis && redisUrl ? [`Redis is not answering at ${where(redisUrl, 6379)} (${redis})`] : []),
  ];
  if (down.length === 0) return undefined;
  return `${down.join('; ')}.\n${START_SERVICES_HINT}`;
}
