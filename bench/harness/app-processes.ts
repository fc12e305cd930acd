import { freePort } from '@billing/testing/ports';
import { startProcess, type BenchProcess } from './child-process';
import type { BenchDatabase } from './database';
import { settings, WEBHOOK_SECRET } from '../settings';

/** A process that answers webhooks, and the port it listens on. */
export interface ServingProcess {
  process: BenchProcess;
  port: number;
}

/**
 * Node flags for the apps under test: `--cpu-prof` into `BENCH_PROFILE_DIR` when it is set
 * (each process writes its profile when it exits).
 */
export function appNodeArgs(): string[] {
  return settings.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${settings.profileDir}`] : [];
}

/** The real ingress (`apps/ingress`) on a free port, enqueuing into `queueName`. */
export async function startIngress(queueName: string, env: Record<string, string> = {}): Promise<ServingProcess> {
  const port = await freePort();
  const process = await startProcess(
    'ingress',
    'apps/ingress/src/server.ts',
    {
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      INGRESS_METRICS_PORT: '0',
      REDIS_URL: settings.redisUrl,
      QUEUE_NAME: queueName,
      LOG_LEVEL: settings.logLevel,
      ...env,
    },
    /ingress listening/,
    { nodeArgs: appNodeArgs() },
  );
  return { process, port };
}

/** A real worker (`apps/worker`) at `concurrency` on `queueName`, with its metrics on a free port; batching as the app's defaults unless `BENCH_WORKER_BATCH_*` say otherwise. */
export function startWorkerProcess(
  database: BenchDatabase,
  queueName: string,
  concurrency: number,
  name = 'worker',
): Promise<BenchProcess> {
  const { batchSize, batchWaitMs } = settings.worker.batchOverrides;
  return startProcess(
    name,
    'apps/worker/src/server.ts',
    {
      DATABASE_URL: database.url,
      REDIS_URL: settings.redisUrl,
      QUEUE_NAME: queueName,
      WORKER_CONCURRENCY: String(concurrency),
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: settings.logLevel,
      ...(batchSize !== undefined && { WORKER_BATCH_SIZE: String(batchSize) }),
      ...(batchWaitMs !== undefined && { WORKER_BATCH_WAIT_MS: String(batchWaitMs) }),
    },
    /"msg":"worker ready"/,
    { nodeArgs: appNodeArgs() },
  );
}
