import { createDatabase } from '@billing/db/client';
import { jobSigner } from '@billing/queue';
import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { checkRedisEnv, redisEnvFields } from '@billing/runtime/redis-env';
import { ERASE_USAGE, parseEraseArgs } from './lib/erase-args';
import { erasePerson, formatEraseReport, incomplete } from './lib/erase';
import { openQueue } from './lib/queue';
import { postgresServerProblem, START_SERVICES_HINT, where } from './lib/services';
import { UsageError } from './lib/usage-error';

// `npm run erase -- (--email <address> | --customer <cus_…>) [--dry-run] [--force]` (Law 25 art. 28.1)
let args;
try {
  args = parseEraseArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  if (error.message) console.error(`erase: ${error.message}\n`);
  console.error(ERASE_USAGE);
  process.exit(error.message ? 2 : 0);
}

const env = loadEnvOrExit(
  'erase',
  {
    DATABASE_URL: envFields.DATABASE_URL,
    ...redisEnvFields,
    QUEUE_NAME: envFields.QUEUE_NAME,
    QUEUE_PREFIX: envFields.QUEUE_PREFIX,
    // Only --force re-signs jobs, so only --force needs the key.
    QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY.optional(),
  },
  process.env,
  checkRedisEnv,
);
if (args.force && !env.QUEUE_SIGNING_KEY) {
  console.error('erase: QUEUE_SIGNING_KEY is required with --force (waiting jobs are re-signed with it)');
  process.exit(1);
}

const pgProblem = await postgresServerProblem(env.DATABASE_URL);
if (pgProblem) {
  console.error(`erase: Postgres is not answering at ${where(env.DATABASE_URL, 5432)} (${pgProblem}).\n${START_SERVICES_HINT}`);
  process.exit(1);
}
let opened;
try {
  opened = await openQueue(env);
} catch (error) {
  console.error(`erase: ${(error as Error).message}`);
  process.exit(1);
}
const { db, sql } = createDatabase(env.DATABASE_URL, { max: 1, applicationName: 'billing-erase' });
try {
  const signer = env.QUEUE_SIGNING_KEY ? jobSigner(env.QUEUE_SIGNING_KEY) : undefined;
  const report = await erasePerson({ db, queue: opened.queue, signer }, args);
  console.log(formatEraseReport(report));
  if (incomplete(report)) process.exitCode = 1;
} catch (error) {
  console.error(`erase: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await opened.close();
  await sql.end({ timeout: 5 });
}
