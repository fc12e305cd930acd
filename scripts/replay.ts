import { envFields, loadEnvOrExit } from '@billing/runtime/env';
import { checkRedisEnv, redisEnvFields } from '@billing/runtime/redis-env';
import { formatReplayReport, parseReplayArgs, replayFailed, REPLAY_USAGE } from './lib/replay';
import { UsageError } from './lib/usage-error';
import { openQueue } from './lib/queue';

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

let args;
try {
  args = parseReplayArgs(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  if (error.message) console.error(`replay: ${error.message}\n`);
  console.error(REPLAY_USAGE);
  process.exit(error.message ? 2 : 0);
}

let opened;
try {
  opened = await openQueue(env);
} catch (error) {
  console.error(`replay: ${(error as Error).message}`);
  process.exit(1);
}
try {
  console.log(`replay: queue ${env.QUEUE_NAME} (prefix ${env.QUEUE_PREFIX})`);
  const report = await replayFailed(opened.queue, args);
  console.log(formatReplayReport(report));
  if (!report.dryRun && report.skipped.length > 0 && report.retried.length === 0) process.exitCode = 1;
} catch (error) {
  console.error(`replay: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await opened.close();
}
