import { jobSigner, checkQueueEnv, queueEnvFields } from '@billing/queue';
import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { ERASE_USAGE, parseEraseArgs } from './lib/erase-args';
import { erasePerson, formatEraseReport, incomplete } from './lib/erase';
import { argsOrExit, databaseOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run erase -- (--email <address> | --customer <cus_…>) [--dry-run] [--force]` (Law 25 art. 28.1)
const args = argsOrExit('erase', ERASE_USAGE, () => parseEraseArgs(process.argv.slice(2)));

const env = loadEnvOrExit(
  'erase',
  {
    ...queueEnvFields,
    QUEUE_NAME: envFields.QUEUE_NAME,
    QUEUE_PREFIX: envFields.QUEUE_PREFIX,
    // Only --force re-signs jobs, so only --force needs the key.
    QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY.optional(),
  },
  process.env,
  checkQueueEnv,
);
if (args.force && !env.QUEUE_SIGNING_KEY) {
  console.error('erase: QUEUE_SIGNING_KEY is required with --force (waiting jobs are re-signed with it)');
  process.exit(1);
}

const database = await databaseOrExit('erase', env.DATABASE_URL, { max: 1, applicationName: 'billing-erase' });
const opened = await queueOrExit('erase', env);
try {
  const signer = env.QUEUE_SIGNING_KEY ? jobSigner(env.QUEUE_SIGNING_KEY) : undefined;
  const report = await erasePerson({ db: database.db, store: opened.store, queue: opened.queue, signer }, args);
  console.log(formatEraseReport(report));
  if (incomplete(report)) process.exitCode = 1;
} catch (error) {
  reportFailure('erase', error);
} finally {
  await opened.close();
  await database.close();
}
