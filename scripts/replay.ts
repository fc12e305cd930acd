import { checkQueueEnv, jobSigner, queueEnvFields } from '@billing/queue';
import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { formatReplayReport, parseReplayArgs, replayFailed, REPLAY_USAGE } from './lib/replay';
import { argsOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run replay -- (--all | --type <type> | --id <evt_…>) [--dry-run]`
const env = loadEnvOrExit(
  'replay',
  {
    ...queueEnvFields,
    // With the key, jobs the worker would refuse (unsigned, or a retired key) are reported instead of retried.
    QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY.optional(),
  },
  process.env,
  checkQueueEnv,
);

const args = argsOrExit('replay', REPLAY_USAGE, () => parseReplayArgs(process.argv.slice(2)));

const opened = await queueOrExit('replay', env);
try {
  console.log(`replay: queue ${env.QUEUE_NAME} on ${opened.store.where}`);
  if (!env.QUEUE_SIGNING_KEY) {
    console.log('replay: QUEUE_SIGNING_KEY is not set: jobs the worker cannot verify are retried anyway, and will be refused again');
  }
  const report = await replayFailed(opened.queue, args, env.QUEUE_SIGNING_KEY ? jobSigner(env.QUEUE_SIGNING_KEY) : undefined);
  console.log(formatReplayReport(report));
  if (!report.dryRun && report.skipped.length > 0 && report.retried.length === 0) process.exitCode = 1;
} catch (error) {
  reportFailure('replay', error);
} finally {
  await opened.close();
}
