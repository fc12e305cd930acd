import { randomBytes } from 'node:crypto';
import { openEventQueue, openNotificationQueue, openQueueStore, queueConfigFromEnv, queueNamesFromEnv } from '@billing/queue';
import { createLogger } from '@billing/runtime/logger';
import { onShutdown } from '@billing/runtime/shutdown';
import { buildDashboard } from './app';
import { loadDashboardEnv } from './env';

const env = loadDashboardEnv();
const logger = createLogger('dashboard', env.LOG_LEVEL);

let password = env.DASHBOARD_PASSWORD;
if (password === undefined) {
  password = randomBytes(18).toString('base64url');
  // A plain line on stderr, printed once: never in a JSON log line (stdout), which log
  // collectors keep and ship. Set DASHBOARD_PASSWORD to keep one across restarts.
  process.stderr.write(
    `dashboard: DASHBOARD_PASSWORD is not set; generated for this run: user ${env.DASHBOARD_USER} password ${password}\n`,
  );
  logger.warn(
    { user: env.DASHBOARD_USER },
    'DASHBOARD_PASSWORD is not set: generated a password for this run (printed on stderr, not logged)',
  );
}

// Fail-fast commands: a board request while the queue's store is away errors within the bound instead of hanging.
const store = openQueueStore(queueConfigFromEnv(env), {
  role: 'producer',
  timeoutMs: 5_000,
  poolSize: 4,
  applicationName: 'billing-dashboard',
});
store.onAvailability((available, reason) => {
  if (available) logger.info({ store: store.where }, 'queue store ready');
  else logger.warn({ store: store.where, err: reason }, 'queue store unavailable');
});
const names = queueNamesFromEnv(env);
const queue = openEventQueue(store, names.events);
// The worker's deliveries to the host application (NOTIFY_URL): failed-for-good ones are retried from here.
const notifications = openNotificationQueue(store, names.notifications);
const app = await buildDashboard({
  queues: [queue, notifications],
  user: env.DASHBOARD_USER,
  password,
  logger,
  loginLimit: { maxFailures: env.DASHBOARD_LOGIN_MAX_FAILURES, windowSeconds: env.DASHBOARD_LOGIN_WINDOW_SECONDS },
});

onShutdown(logger, [
  { name: 'http', run: () => app.close() },
  { name: 'queue', run: () => queue.close() },
  { name: 'notifications queue', run: () => notifications.close() },
  { name: 'queue store', run: () => store.close() },
]);

try {
  await app.listen({ port: env.DASHBOARD_PORT, host: env.DASHBOARD_HOST });
} catch (error) {
  logger.fatal({ err: error }, 'dashboard could not listen');
  await queue.close().catch(() => {});
  await notifications.close().catch(() => {});
  await store.close().catch(() => {});
  process.exit(1);
}
const address = app.server.address();
const port = typeof address === 'object' && address !== null ? address.port : env.DASHBOARD_PORT;
const host = env.DASHBOARD_HOST.includes(':') ? `[${env.DASHBOARD_HOST}]` : env.DASHBOARD_HOST;
logger.info(
  {
    url: `http://${host}:${port}/`,
    queues: [names.events, names.notifications],
    backend: store.backend,
    store: store.where,
    user: env.DASHBOARD_USER,
  },
  'dashboard listening',
);
