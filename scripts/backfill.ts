import { createDatabase } from '@billing/db/client';
import { jobSigner } from '@billing/queue';
import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';
import { checkRedisEnv, redisEnvFields } from '@billing/runtime/redis-env';
import { backfill, BACKFILL_USAGE, formatBackfillReport, parseBackfillArgs } from './lib/backfill';
import { UsageError } from './lib/usage-error';
import { openQueue } from './lib/queue';
import { postgresServerProblem, START_SERVICES_HINT, where } from './lib/services';
import { createStripeClient } from '@billing/runtime/stripe-client';

// `npm run backfill -- --since <ISO date | 6h | 2d> [--dry-run]`
let args;
try {
  args = parseBackfillArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  if (error.message) console.error(`backfill: ${error.message}\n`);
  console.error(BACKFILL_USAGE);
  process.exit(error.message ? 2 : 0);
}

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
    DATABASE_URL: envFields.DATABASE_URL,
    ...redisEnvFields,
    QUEUE_NAME: envFields.QUEUE_NAME,
    QUEUE_PREFIX: envFields.QUEUE_PREFIX,
  },
  process.env,
  checkRedisEnv,
);

const pgProblem = await postgresServerProblem(env.DATABASE_URL);
if (pgProblem) {
  console.error(`backfill: Postgres is not answering at ${where(env.DATABASE_URL, 5432)} (${pgProblem}).\n${START_SERVICES_HINT}`);
  process.exit(1);
}
let opened;
try {
  opened = await openQueue(env);
} catch (error) {
  console.error(`backfill: ${(error as Error).message}`);
  process.exit(1);
}
const { db, sql } = createDatabase(env.DATABASE_URL, { max: 2, applicationName: 'billing-webhooks-backfill' });
try {
  console.log(
    `backfill: queue ${env.QUEUE_NAME} (prefix ${env.QUEUE_PREFIX})${env.STRIPE_API_BASE ? `, Stripe API at ${env.STRIPE_API_BASE}` : ''}`,
  );
  const report = await backfill(
    {
      stripe: createStripeClient(env.STRIPE_SECRET_KEY, { apiBase: env.STRIPE_API_BASE }),
      db,
      queue: opened.queue,
      signer: jobSigner(env.QUEUE_SIGNING_KEY),
    },
    args,
  );
  console.log(formatBackfillReport(report));
  if (report.invalid.length > 0) process.exitCode = 1;
} catch (error) {
  const { type, message } = error as { type?: string; message?: string };
  console.error(`backfill: ${type ? `${type}: ` : ''}${message ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await opened.close();
  await sql.end({ timeout: 5 });
}
