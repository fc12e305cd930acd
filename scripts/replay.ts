import { checkQueueEnv, queueEnvFields } from '@billing/queue';
import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { formatReplayReport, parseReplayArgs, replayFailed, REPLAY_USAGE } from './lib/replay';
import { argsOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run replay -- (--all | --type <type> | --id <evt_…>) [--dry-run]`
const env = loadEnvOrExit(
  'replay',
  {
    ...queueEnvFields,
  },
  process.env,
  checkQueueEnv,
);

const args = argsOrExit('replay', REPLAY_USAGE, () => parseReplayArgs(process.argv.slice(2)));

const opened = await queueOrExit('replay', env);
try {
  console.log(`replay: queue ${env.QUEUE_NAME} on ${opened.store.where}`);
  const report = await replayFailed(opened.queue, args);
  console.log(formatReplayReport(report));
  if (!report.dryRun && report.skipped.length > 0 && report.retried.length === 0) process.exitCode = 1;
} catch (error) {
  reportFailure('replay', error);
} finally {
  await opened.close();
}
