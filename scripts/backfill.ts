import { jobSigner, checkQueueEnv, queueEnvFields } from '@billing/queue';
import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { backfill, BACKFILL_USAGE, formatBackfillReport, parseBackfillArgs } from './lib/backfill';
import { argsOrExit, databaseOrExit, queueOrExit, reportFailure } from './lib/script-main';
import { createStripeClient } from '@billing/runtime/stripe-client';

// `npm run backfill -- --since <ISO date | 6h | 2d> [--dry-run]`
const args = argsOrExit('backfill', BACKFILL_USAGE, () => parseBackfillArgs(process.argv.slice(2)));

const env = loadEnvOrExit(
  'backfill',
  {
    STRIPE_SECRET_KEY: z
      .string()
      .trim()
      .regex(/^(sk|rk)_(test|live)_\w+$/, { message: 'must be a Stripe secret key (sk_… or rk_…)' }),
    STRIPE_API_BASE: z
      .string()
      .trim()
      .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), { message: 'must be an http(s) URL' })
      .optional(),
    QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY,
    ...queueEnvFields,
  },
  process.env,
  checkQueueEnv,
);

const database = await databaseOrExit('backfill', env.DATABASE_URL, { max: 2, applicationName: 'billing-webhooks-backfill' });
const opened = await queueOrExit('backfill', env);
try {
  console.log(
    `backfill: queue ${env.QUEUE_NAME} on ${opened.store.where}${env.STRIPE_API_BASE ? `, Stripe API at ${env.STRIPE_API_BASE}` : ''}`,
  );
  const report = await backfill(
    {
      stripe: createStripeClient(env.STRIPE_SECRET_KEY, { apiBase: env.STRIPE_API_BASE }),
      db: database.db,
      sql: database.sql,
      store: opened.store,
      queue: opened.queue,
      signer: jobSigner(env.QUEUE_SIGNING_KEY),
    },
    args,
  );
  console.log(formatBackfillReport(report));
  if (report.invalid.length > 0) process.exitCode = 1;
} catch (error) {
  // A Stripe API error says its type (authentication_error, rate_limit_error…) before its message.
  reportFailure('backfill', error, (e) => `${'type' in e && e.type ? `${String(e.type)}: ` : ''}${e.message}`);
} finally {
  await opened.close();
  await database.close();
}
