import { queueConfigFromEnv, queueEnvFields, queueNamesFromEnv } from '@billing/queue';
import { DEFAULT_DATABASE_URL, envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { DEMO_STRIPE_API_PORT, DemoError, runDemo } from './lib/demo';
import { runDriftDemo } from './lib/demo-drift';
import { argsOrExit } from './lib/script-main';
import { parseFlags } from './lib/script-flags';
import { demoWebhookSecret, readLocalDatabaseUrl } from './lib/local-secret';
import { optionalDatabaseUrl } from './lib/services';

// `npm run demo`: sends a signed sample lifecycle to the local ingress (started by `npm start`);
// `--thin`: the same histories as thin events, their objects served by a fake Stripe API;
// `--drift`: then shows reconcile finding and repairing drift against a fake Stripe API.
const args = argsOrExit(
  'demo',
  'usage: npm run demo [-- --thin] [-- --drift]\n' +
    '  --thin   send the histories as thin events (the stack started with STRIPE_THIN_WEBHOOK_SECRET)\n' +
    '  --drift  then make Stripe (a fake API in this process) drift from the tables, and reconcile: found, repaired, gone',
  () => parseFlags(process.argv.slice(2), { thin: { type: 'boolean' }, drift: { type: 'boolean' } }),
);
const env = loadEnvOrExit('demo', {
  // Where the queue is, as `npm start` was given it (its notifications queue carries the demo's deliveries).
  ...queueEnvFields,
  DATABASE_URL: optionalDatabaseUrl,
  PORT: envFields.port(3000),
  HOST: envFields.host('127.0.0.1'),
  STRIPE_WEBHOOK_SECRET: z.string().optional(),
  STRIPE_THIN_WEBHOOK_SECRET: z.string().optional(),
  THIN_WEBHOOK_PATH: z.string().trim().optional(),
  DEMO_STRIPE_API_PORT: envFields.port(DEMO_STRIPE_API_PORT),
});
const thinSecret = env.STRIPE_THIN_WEBHOOK_SECRET?.split(',')[0]?.trim();
if (args.thin && !thinSecret) {
  console.error(
    'demo: --thin needs STRIPE_THIN_WEBHOOK_SECRET, the one the ingress was started with; start the stack with it, and the worker with ' +
      `STRIPE_SECRET_KEY=sk_test_… and STRIPE_API_BASE=http://127.0.0.1:${env.DEMO_STRIPE_API_PORT} (docs/operations.md, "Thin events")`,
  );
  process.exit(1);
}

const found = demoWebhookSecret(env.STRIPE_WEBHOOK_SECRET);
if (!found) {
  console.error(
    'demo: no webhook signing secret: set STRIPE_WEBHOOK_SECRET to the one the ingress uses, ' +
      'or start the stack with `npm start` without it (it then generates one into .local/webhook-secret).',
  );
  process.exit(1);
}

// A wildcard listen address is reached through loopback.
const host = ['0.0.0.0', '::', '[::]'].includes(env.HOST) ? '127.0.0.1' : env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
try {
  // Unset: the embedded Postgres `npm start` runs with nothing configured (it writes its URL
  // into .local/database-url), else the default.
  const databaseUrl = env.DATABASE_URL ?? readLocalDatabaseUrl() ?? DEFAULT_DATABASE_URL;
  const result = await runDemo({
    databaseUrl,
    notifications: { queue: queueConfigFromEnv({ ...env, DATABASE_URL: databaseUrl }), queueName: queueNamesFromEnv(env).events },
    ingressUrl: `http://${host}:${env.PORT}`,
    secret: found.secret,
    secretSource: found.source,
    ...(args.thin && thinSecret && { thin: { secret: thinSecret, apiPort: env.DEMO_STRIPE_API_PORT, path: env.THIN_WEBHOOK_PATH } }),
  });
  if (args.drift) await runDriftDemo({ databaseUrl, built: result.built });
  console.log('\nDone. Open the dashboard (npm start printed its address and password) to see the jobs.');
} catch (error) {
  if (!(error instanceof DemoError)) throw error;
  console.error(`demo: ${error.message}`);
  process.exitCode = 1;
}
