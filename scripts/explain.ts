import { checkQueueEnv, queueEnvFields } from '@billing/queue';
import { loadEnvOrExit } from '@billing/runtime/env';
import { explain, EXPLAIN_USAGE, formatExplanation } from './lib/explain';
import { databaseOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run explain -- <sub_…|cus_…|evt_…|email>`: read-only.
const env = loadEnvOrExit('explain', { ...queueEnvFields }, process.env, checkQueueEnv);

const subject = process.argv.slice(2).find((arg) => arg !== '--');
if (!subject || subject === '--help' || subject === '-h') {
  console.error(EXPLAIN_USAGE);
  process.exit(subject ? 0 : 2);
}

const database = await databaseOrExit('explain', env.DATABASE_URL, { max: 1, applicationName: 'billing-explain' });
const opened = await queueOrExit('explain', env);
try {
  console.log(formatExplanation(await explain(database.db, opened.queue, subject)));
} catch (error) {
  reportFailure('explain', error);
} finally {
  await opened.close();
  await database.close();
}
