import { createDatabase } from '@billing/db/client';
import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { checkRedisEnv, redisEnvFields } from '@billing/runtime/redis-env';
import { explain, EXPLAIN_USAGE, formatExplanation } from './lib/explain';
import { openQueue } from './lib/queue';
import { UsageError } from './lib/usage-error';

// `npm run explain -- <sub_…|cus_…|evt_…|email>`: read-only.
const env = loadEnvOrExit(
  'explain',
  { DATABASE_URL: envFields.DATABASE_URL, ...redisEnvFields, QUEUE_NAME: envFields.QUEUE_NAME, QUEUE_PREFIX: envFields.QUEUE_PREFIX },
  process.env,
  checkRedisEnv,
);

const subject = process.argv.slice(2).find((arg) => arg !== '--');
if (!subject || subject === '--help' || subject === '-h') {
  console.error(EXPLAIN_USAGE);
  process.exit(subject ? 0 : 2);
}

let opened;
try {
  opened = await openQueue(env);
} catch (error) {
  console.error(`explain: ${(error as Error).message}`);
  process.exit(1);
}
const { db, sql } = createDatabase(env.DATABASE_URL, { max: 1, applicationName: 'billing-explain' });
try {
  console.log(formatExplanation(await explain(db, opened.queue, subject)));
} catch (error) {
  console.error(`explain: ${(error as Error).message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
} finally {
  await opened.close();
  await sql.end({ timeout: 5 });
}
