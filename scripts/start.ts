import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { migrateDatabase } from '@billing/db/migrate';
import { checkQueueEnv, migrateQueueSchema, queueConfigFromEnv, queueEnvFields } from '@billing/queue';
import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { createConcurrently, KillOnSignal, LogError, LogExit, Logger, LogOutput, type Command } from 'concurrently';
import { ensureLocalQueueKey, ensureLocalWebhookSecret, REPO_ROOT } from './lib/local-secret';
import { portIsFree } from './lib/ports';
import { PrettyOutput } from './lib/pretty-output';
import { StopTogether } from './lib/stop-together';
import { servicesProblem } from './lib/services';

// `npm start`: local use only. Checks Postgres and Redis, migrates, then runs ingress, worker
// and dashboard together with prefixed logs; Ctrl-C stops all three.

const env = loadEnvOrExit(
  'start',
  {
    ...queueEnvFields,
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
  checkQueueEnv,
);
const queue = queueConfigFromEnv(env);

// 1. Postgres and Redis answer, or one message saying what to start.
const problem = await servicesProblem(env.DATABASE_URL, queue.backend === 'redis' ? queue.redis.url : undefined);
if (problem) {
  console.error(`start: ${problem}`);
  process.exit(1);
}

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

// 3. Migrate (creates the database the first time).
try {
  const { database, created } = await migrateDatabase(env.DATABASE_URL);
  console.log(`start: database ${database} is up to date${created ? ' (created)' : ''}`);
  if (queue.backend === 'postgres') await migrateQueueSchema(queue.url, queue.schema);
  console.log(`start: the queue is on ${queue.backend === 'postgres' ? `Postgres (schema ${queue.schema})` : 'Redis'}`);
} catch (error) {
  console.error(`start: ${(error as Error).message}`);
  process.exit(1);
}

// 4. Local secrets, generated here so they are printed once, clearly, below.
const childEnv: Record<string, string> = {};
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

// 5. The three processes. Each runs node directly (no npm in between) in a process group of its
//    own, so Ctrl-C reaches each one once, through concurrently, and shuts it down gracefully;
//    a terminal's SIGINT to the whole group on top would count as a second signal: exit now.
const node = `exec ${shellQuote(process.execPath)} --import tsx`;
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

// 6. Once all three say they are up, print where each listens.
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
    'billing-webhooks is running (Ctrl-C stops all three):',
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

try {
  await result;
  console.log('start: all stopped');
} catch (closeEvents) {
  const failed = (closeEvents as Array<{ command: { name: string }; exitCode: number | string; killed: boolean }>)
    .filter((e) => e.exitCode !== 0 && !e.killed)
    .map((e) => `${e.command.name} (exit ${e.exitCode})`);
  console.error(`start: stopped${failed.length ? ` because ${failed.join(', ')} exited` : ''}; see its log lines above.`);
  process.exitCode = 1;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
