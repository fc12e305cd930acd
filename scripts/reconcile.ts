import { defaultBillingConfig } from '@billing/billing';
import { createConnection } from '@billing/db/client';
import { jobSigner, checkQueueEnv, queueEnvFields } from '@billing/queue';
import { EnvError, envFields, loadEnv } from '@billing/runtime/env';
import { createStripeClient } from '@billing/runtime/stripe-client';
import { workerEnvShape } from '@billing/worker/env';
import { formatReconcileReport, reconcile, reconcileJson } from './lib/reconcile';
import { parseReconcileArgs, RECONCILE_USAGE } from './lib/reconcile-args';
import { argsOrExit, databaseOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run reconcile -- [--since <date|duration>] [--customer cus_…] [--repair] [--json]`
const args = argsOrExit('reconcile', RECONCILE_USAGE, () => parseReconcileArgs(process.argv.slice(2)));

const envShape = {
  STRIPE_SECRET_KEY: workerEnvShape.STRIPE_SECRET_KEY.unwrap(),
  STRIPE_API_BASE: workerEnvShape.STRIPE_API_BASE,
  QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY,
  PLAN_SLUGS: workerEnvShape.PLAN_SLUGS,
  PLAN_PRICES: workerEnvShape.PLAN_PRICES,
  METADATA_PREFIX: workerEnvShape.METADATA_PREFIX,
  ACCESS_PAST_DUE_GRACE_DAYS: workerEnvShape.ACCESS_PAST_DUE_GRACE_DAYS,
  ...queueEnvFields,
};

// Exit 1 means drift here: a bad or missing variable is an error, 2.
let env: ReturnType<typeof loadEnv<typeof envShape>>;
try {
  env = loadEnv(envShape, process.env, checkQueueEnv);
} catch (error) {
  if (!(error instanceof EnvError)) throw error;
  for (const line of error.message.split('\n')) console.error(`reconcile: ${line}`);
  process.exit(2);
}

const database = await databaseOrExit('reconcile', env.DATABASE_URL, { max: 2, applicationName: 'billing-webhooks-reconcile' }, 2);
const connection = createConnection(env.DATABASE_URL, 'billing-webhooks-reconcile');
const opened = await queueOrExit('reconcile', env, 2);
try {
  if (!args.json) {
    console.error(
      `reconcile: queue ${env.QUEUE_NAME} on ${opened.store.where}${env.STRIPE_API_BASE ? `, Stripe API at ${env.STRIPE_API_BASE}` : ''}${args.repair ? ', repairing' : ', read-only'}`,
    );
  }
  const report = await reconcile(
    {
      // The SDK retries 5xx and network errors; 429s are waited out by the sweeps (Retry-After).
      stripe: createStripeClient(env.STRIPE_SECRET_KEY, { apiBase: env.STRIPE_API_BASE, maxNetworkRetries: 3 }),
      db: database.db,
      sql: database.sql,
      connection,
      store: opened.store,
      queue: opened.queue,
      signer: jobSigner(env.QUEUE_SIGNING_KEY),
      config: { ...defaultBillingConfig, planSlugs: env.PLAN_SLUGS, planPrices: env.PLAN_PRICES, metadataPrefix: env.METADATA_PREFIX },
      applyOptions: { accessPolicy: { pastDueGraceSeconds: env.ACCESS_PAST_DUE_GRACE_DAYS * 86_400 } },
      backoff: { onBackoff: (ms) => !args.json && console.error(`reconcile: rate limited by Stripe, waiting ${Math.ceil(ms / 1000)} s`) },
    },
    args,
  );
  console.log(args.json ? reconcileJson(report) : formatReconcileReport(report));
  process.exitCode = report.exitCode;
} catch (error) {
  reportFailure('reconcile', error, (e) => `${'type' in e && e.type ? `${String(e.type)}: ` : ''}${e.message}`);
  process.exitCode = 2;
} finally {
  await opened.close();
  await connection.end({ timeout: 5 });
  await database.close();
}
