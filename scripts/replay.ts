import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { checkRedisEnv, redisEnvFields } from '@billing/runtime/redis-env';
import { formatReplayReport, parseReplayArgs, replayFailed, REPLAY_USAGE } from './lib/replay';
import { argsOrExit, queueOrExit, reportFailure } from './lib/script-main';

// `npm run replay -- (--all | --type <type> | --id <evt_…>) [--dry-run]`
const env = loadEnvOrExit(
  'replay',
  {
    ...redisEnvFields,
    QUEUE_NAME: envFields.QUEUE_NAME,
    QUEUE_PREFIX: envFields.QUEUE_PREFIX,
  },
  process.env,
  checkRedisEnv,
);

const args = argsOrExit('replay', REPLAY_USAGE, () => parseReplayArgs(process.argv.slice(2)));

const opened = await queueOrExit('replay', env);
try {
  console.log(`replay: queue ${env.QUEUE_NAME} (prefix ${env.QUEUE_PREFIX})`);
  const report = await replayFailed(opened.queue, args);
  console.log(formatReplayReport(report));
  if (!report.dryRun && report.skipped.length > 0 && report.retried.length === 0) process.exitCode = 1;
} catch (error) {
  reportFailure('replay', error);
} finally {
  await opened.close();
}
