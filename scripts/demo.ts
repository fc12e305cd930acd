import { queueConfigFromEnv, queueEnvFields, queueNamesFromEnv } from '@billing/queue';
import { DEFAULT_DATABASE_URL, envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { DemoError, runDemo } from './lib/demo';
import { demoWebhookSecret, readLocalDatabaseUrl } from './lib/local-secret';
import { optionalDatabaseUrl } from './lib/services';

// `npm run demo`: sends a signed sample lifecycle to the local ingress (started by `npm start`).
const env = loadEnvOrExit('demo', {
  // Where the queue is, as `npm start` was given it (its notifications queue carries the demo's deliveries).
  ...queueEnvFields,
  DATABASE_URL: optionalDatabaseUrl,
  PORT: envFields.port(3000),
  HOST: envFields.host('127.0.0.1'),
  STRIPE_WEBHOOK_SECRET: z.string().optional(),
});

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
  await runDemo({
    databaseUrl,
    notifications: { queue: queueConfigFromEnv({ ...env, DATABASE_URL: databaseUrl }), queueName: queueNamesFromEnv(env).events },
    ingressUrl: `http://${host}:${env.PORT}`,
    secret: found.secret,
    secretSource: found.source,
  });
  console.log('\nDone. Open the dashboard (npm start printed its address and password) to see the jobs.');
} catch (error) {
  if (!(error instanceof DemoError)) throw error;
  console.error(`demo: ${error.message}`);
  process.exitCode = 1;
}
