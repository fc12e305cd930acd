import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { relative } from 'node:path';
import { migrateDatabase } from '@billing/db/migrate';
import { LocalPostgresError, startLocalPostgres, type LocalPostgres } from '@billing/local-postgres';
import { checkQueueEnv, describeQueue, migrateQueueSchema, queueBackendOf, queueConfigFromEnv, queueEnvFields } from '@billing/queue';
import { DEFAULT_DATABASE_URL, envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { APP_NODE_FLAGS } from '@billing/runtime/node-flags';
import { createConcurrently, KillOnSignal, LogError, LogExit, Logger, LogOutput, type Command } from 'concurrently';
import { forgetRun, recordRun, stopLeftovers } from './lib/leftovers';
import {
  ensureLocalPostgresPassword,
  ensureLocalQueueKey,
  ensureLocalWebhookSecret,
  LOCAL_POSTGRES_PASSWORD_FILE,
  REPO_ROOT,
  writeLocalDatabaseUrl,
} from './lib/local-secret';
import { portIsFree } from './lib/ports';
import { PrettyOutput } from './lib/pretty-output';
import { StopTogether } from './lib/stop-together';
import { optionalDatabaseUrl, servicesProblem, where } from './lib/services';

// `npm start`: local use only. With DATABASE_URL and/or a Redis variable, checks what they point
// at; with neither, starts an embedded Postgres under .local/postgres (nothing to install but
// Node.js). Then migrates, and runs ingress, worker and dashboard together with prefixed logs;
// Ctrl-C stops all three, then the embedded Postgres.

const env = loadEnvOrExit(
  'start',
  {
    // The queue's variables and rules are the apps' own (@billing/queue); only DATABASE_URL has no
    // default here: unset (with no Redis variable either) means the embedded profile.
    ...queueEnvFields,
    DATABASE_URL: optionalDatabaseUrl,
    PORT: envFields.port(3000),
    HOST: envFields.host('127.0.0.1'),
    DASHBOARD_PORT: envFields.port(3001),
    DASHBOARD_HOST: envFields.host('127.0.0.1'),
    DASHBOARD_USER: z.string().trim().default('admin'),
    DASHBOARD_PASSWORD: z.string().optional(),
    INGRESS_METRICS_PORT: envFields.port(9465),
    INGRESS_METRICS_HOST: envFields.host('127.0.0.1'),
    WORKER_METRICS_PORT: envFields.port(9464),
    WORKER_METRICS_HOST: envFields.host('127.0.0.1'),
    STRIPE_WEBHOOK_SECRET: z.string().optional(),
    QUEUE_SIGNING_KEY: z.string().optional(),
  },
  process.env,
  (values) => checkQueueEnv({ ...values, DATABASE_URL: values.DATABASE_URL ?? DEFAULT_DATABASE_URL }),
);

/** Where the embedded profile keeps its Postgres (data/, postgres.log), relative to the checkout. */
const LOCAL_POSTGRES_HOME = '.local/postgres';

// The profile: which Postgres, which queue (the apps' own rule: Redis when a Redis variable is set, else Postgres).
const queueBackend = queueBackendOf(env);
const embedded = !env.DATABASE_URL && !env.QUEUE_DATABASE_URL && !env.REDIS_URL && !env.REDIS_SENTINELS && !env.REDIS_CLUSTER_NODES;

// Until the apps run, a signal stops what has been started (the embedded Postgres) and exits;
// afterwards concurrently forwards it to the apps, and Postgres stops once they have.
let localPostgres: LocalPostgres | undefined;
let running = false;
let exiting = false;
async function stopAndExit(code: number, message?: string): Promise<never> {
  // Once: a step that fails because a signal is stopping Postgres under it says nothing more.
  if (exiting) return new Promise<never>(() => {});
  exiting = true;
  if (message) console.error(message);
  await localPostgres?.stop();
  forgetRun();
  process.exit(code);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (!running) void stopAndExit(130, `start: stopped by ${signal} before the apps ran`);
  });
}

// 1. What a killed `npm start` left running (its apps; the embedded Postgres recovers by itself).
const leftovers = await stopLeftovers();
if (leftovers.length) console.log(`start: stopped ${leftovers.join(', ')}, left running by an earlier npm start that was killed`);

// 2. Ports free, or say which one is taken (usually another `npm start`).
const ports = [
  { what: 'ingress', variable: 'PORT', port: env.PORT, host: env.HOST },
  { what: 'ingress metrics', variable: 'INGRESS_METRICS_PORT', port: env.INGRESS_METRICS_PORT, host: env.INGRESS_METRICS_HOST },
  { what: 'dashboard', variable: 'DASHBOARD_PORT', port: env.DASHBOARD_PORT, host: env.DASHBOARD_HOST },
  { what: 'worker metrics', variable: 'WORKER_METRICS_PORT', port: env.WORKER_METRICS_PORT, host: env.WORKER_METRICS_HOST },
];
for (const { what, variable, port, host } of ports) {
  if (!(await portIsFree(port, host))) {
    console.error(
      `start: port ${port} on ${host} (${what}) is already in use — is another \`npm start\` running? Stop it, or set ${variable}.`,
    );
    process.exit(1);
  }
}

// 3. Postgres (and Redis, when the queue runs there): the embedded one started, or the configured
//    ones answering, or one message saying what to start.
const childEnv: Record<string, string> = {};
let databaseUrl: string;
let profile: string;
if (embedded) {
  const { password } = ensureLocalPostgresPassword();
  try {
    localPostgres = await startLocalPostgres({
      home: `${REPO_ROOT}${LOCAL_POSTGRES_HOME}`,
      password,
      log: (line) => console.log(`start: ${line.replaceAll(REPO_ROOT, '')}`),
    });
  } catch (error) {
    if (!(error instanceof LocalPostgresError)) throw error;
    await stopAndExit(1, `start: the embedded Postgres: ${error.message.replaceAll(REPO_ROOT, '')}`);
  }
  const pg = localPostgres!;
  const { initdbMs, startMs } = pg.timings;
  console.log(
    `start: embedded Postgres ${pg.major} up on 127.0.0.1:${pg.port} (${pg.created ? `initdb ${initdbMs} ms, ` : ''}start ${startMs} ms)`,
  );
  databaseUrl = pg.urlFor('billing');
  childEnv.DATABASE_URL = databaseUrl;
  writeLocalDatabaseUrl(databaseUrl);
  profile = [
    `embedded Postgres ${pg.created ? '(created now)' : '(data reused)'} — no DATABASE_URL, no Redis variable`,
    `             data ${relative(REPO_ROOT, pg.dataDir)}/  log ${relative(REPO_ROOT, pg.logFile)}  (delete ${LOCAL_POSTGRES_HOME}/ to start afresh)`,
    `             postgres://postgres:***@${where(databaseUrl, 5432)}/billing  (password in ${relative(REPO_ROOT, LOCAL_POSTGRES_PASSWORD_FILE)})`,
    `             queue on Postgres, schema ${env.QUEUE_SCHEMA} of that database`,
  ].join('\n');
} else {
  databaseUrl = env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  // With Sentinel or Cluster the apps find the nodes themselves; REDIS_URL alone names one server.
  const probeRedis = queueBackend === 'redis' && env.REDIS_URL && !env.REDIS_SENTINELS && !env.REDIS_CLUSTER_NODES;
  const problem = await servicesProblem(databaseUrl, probeRedis ? env.REDIS_URL : undefined);
  if (problem) {
    console.error(`start: ${problem}`);
    process.exit(1);
  }
  profile = [
    `Postgres at ${where(databaseUrl, 5432)}${env.DATABASE_URL ? ' (DATABASE_URL)' : ' (the default DATABASE_URL)'}`,
    `             queue: ${describeQueue(queueConfigFromEnv({ ...env, DATABASE_URL: databaseUrl }))}`,
  ].join('\n');
}
const queue = queueConfigFromEnv({ ...env, DATABASE_URL: databaseUrl });

// 4. Migrate (creates the database the first time; with the Postgres queue, its schema too).
try {
  const { database, created } = await migrateDatabase(databaseUrl);
  console.log(`start: database ${database} is up to date${created ? ' (created)' : ''}`);
  if (queue.backend === 'postgres') {
    const version = await migrateQueueSchema(queue.url, queue.schema);
    console.log(`start: the queue's schema ${queue.schema} is up to date (BullMQ schema version ${version})`);
  }
} catch (error) {
  await stopAndExit(1, `start: ${(error as Error).message}`);
}

// 5. Local secrets, generated here so they are printed once, clearly, below.
let secretNote: string;
if (env.STRIPE_WEBHOOK_SECRET) {
  secretNote = 'from STRIPE_WEBHOOK_SECRET';
} else {
  const { secret, created } = ensureLocalWebhookSecret();
  childEnv.STRIPE_WEBHOOK_SECRET = secret;
  secretNote = `${secret}  (local only, ${created ? 'generated into' : 'reused from'} .local/webhook-secret; npm run demo signs with it)`;
}
if (!env.QUEUE_SIGNING_KEY) childEnv.QUEUE_SIGNING_KEY = ensureLocalQueueKey().key;
let password = env.DASHBOARD_PASSWORD;
let passwordNote = '(from DASHBOARD_PASSWORD)';
if (!password) {
  password = randomBytes(12).toString('base64url');
  childEnv.DASHBOARD_PASSWORD = password;
  passwordNote = '(generated for this run; set DASHBOARD_PASSWORD to choose one)';
}

// 6. The three processes. Each runs node directly (no npm in between) in a process group of its
//    own, so Ctrl-C reaches each one once, through concurrently, and shuts it down gracefully;
//    a terminal's SIGINT to the whole group on top would count as a second signal: exit now.
const node = `exec ${[process.execPath, ...APP_NODE_FLAGS].map(shellQuote).join(' ')} --import tsx`;
const apps = ['ingress', 'worker', 'dashboard'] as const;
const colors = { ingress: 'cyan', worker: 'magenta', dashboard: 'green' } as const;
const logger = new Logger({ prefixFormat: 'name', commandLength: 10 });
const { commands, result } = createConcurrently(
  apps.map((name) => ({ name, command: `${node} apps/${name}/src/server.ts`, env: childEnv, prefixColor: colors[name], cwd: REPO_ROOT })),
  {
    logger,
    outputStream: process.stdout,
    cwd: REPO_ROOT,
    spawn: (command, options) => spawn('/bin/sh', ['-c', command], { ...options, detached: true }),
    controllers: [
      new LogError({ logger }),
      // At a terminal, log lines as pino-pretty shows them; piped or redirected, the JSON itself.
      process.stdout.isTTY ? new PrettyOutput({ logger }) : new LogOutput({ logger }),
      new LogExit({ logger }),
      new KillOnSignal({ process }),
      // Any one stopping on its own stops the others; after Ctrl-C each gets the one signal only.
      new StopTogether(logger),
    ],
  },
);

running = true;
recordRun((commands as Command[]).map((command) => ({ name: command.name, pid: command.pid })));

// Should this process die unexpectedly, do not leave the apps running in their own groups.
process.once('exit', () => {
  for (const command of commands as Command[]) {
    if (command.pid === undefined || command.exited) continue;
    try {
      process.kill(-command.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
});

// 7. Once all three say they are up, print where each listens.
const ready = new Map<string, Record<string, unknown>>();
const readyMessage: Record<(typeof apps)[number], string> = {
  ingress: 'ingress listening',
  worker: 'worker ready',
  dashboard: 'dashboard listening',
};
for (const command of commands as Command[]) {
  const name = command.name as (typeof apps)[number];
  let buffered = '';
  const subscription = command.stdout.subscribe((chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.includes(readyMessage[name])) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.msg !== readyMessage[name]) continue;
        ready.set(name, parsed);
      } catch {
        continue;
      }
      subscription.unsubscribe();
      if (ready.size === apps.length) printBanner();
    }
  });
}

function printBanner(): void {
  const ingressUrl = String(ready.get('ingress')?.url ?? `http://${env.HOST}:${env.PORT}`).replace(/\/$/, '');
  const lines = [
    '',
    `billing-webhooks is running on Node ${process.version}, ready in ${(performance.now() / 1000).toFixed(1)} s ` +
      `(Ctrl-C stops all three${localPostgres ? ', then the embedded Postgres' : ''}):`,
    `  profile    ${profile}`,
    `  ingress    ${ingressUrl}/checkout/webhooks/stripe   (also /healthz, /readyz)`,
    `             metrics ${String(ready.get('ingress')?.metrics ?? '')}`,
    `  worker     metrics ${String(ready.get('worker')?.metrics ?? '')}`,
    `  dashboard  ${String(ready.get('dashboard')?.url ?? `http://${env.DASHBOARD_HOST}:${env.DASHBOARD_PORT}/`)}`,
    `             user ${env.DASHBOARD_USER}  password ${password}  ${passwordNote}`,
    `  webhook signing secret: ${secretNote}`,
    '',
    'Send a sample lifecycle:  npm run demo',
    'Forward real test events: stripe listen --forward-to ' +
      `${ingressUrl}/checkout/webhooks/stripe` +
      '  (then restart with STRIPE_WEBHOOK_SECRET=<its whsec_…>)',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

let failure: string | undefined;
try {
  await result;
} catch (closeEvents) {
  const failed = (closeEvents as Array<{ command: { name: string }; exitCode: number | string; killed: boolean }>)
    .filter((e) => e.exitCode !== 0 && !e.killed)
    .map((e) => `${e.command.name} (exit ${e.exitCode})`);
  failure = `start: stopped${failed.length ? ` because ${failed.join(', ')} exited` : ''}; see its log lines above.`;
}
// The apps are down: now the embedded Postgres (fast shutdown; its data stays).
if (localPostgres) {
  await localPostgres.stop();
  console.log(`start: embedded Postgres stopped (its data stays in ${relative(REPO_ROOT, localPostgres.dataDir)}/)`);
}
forgetRun();
if (failure) {
  console.error(failure);
  process.exitCode = 1;
} else {
  console.log('start: all stopped');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
