import { DEFAULT_PAST_DUE_GRACE_DAYS } from '@billing/billing';
import { checkQueueEnv, queueEnvFields } from '@billing/queue';
import { loadEnvOrExit, z } from '@billing/runtime/env';
import { explain, EXPLAIN_USAGE, formatExplanation } from './lib/explain';
import { databaseOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run explain -- <sub_…|cus_…|evt_…|email>`: read-only.
const env = loadEnvOrExit(
  'explain',
  {
    ...queueEnvFields,
    // The worker's policy, so the decision taken again here is the worker's.
    ACCESS_PAST_DUE_GRACE_DAYS: z.coerce.number().min(0).max(365).default(DEFAULT_PAST_DUE_GRACE_DAYS),
  },
  process.env,
  checkQueueEnv,
);

const subject = process.argv.slice(2).find((arg) => arg !== '--');
if (!subject || subject === '--help' || subject === '-h') {
  console.error(EXPLAIN_USAGE);
  process.exit(subject ? 0 : 2);
}

const database = await databaseOrExit('explain', env.DATABASE_URL, { max: 1, applicationName: 'billing-explain' });
const opened = await queueOrExit('explain', env);
try {
  const policy = { pastDueGraceSeconds: env.ACCESS_PAST_DUE_GRACE_DAYS * 86_400 };
  console.log(formatExplanation(await explain(database.db, opened.queue, subject, { policy })));
} catch (error) {
  reportFailure('explain', error);
} finally {
  await opened.close();
  await database.close();
}
