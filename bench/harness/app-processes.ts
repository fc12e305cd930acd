import { freePort } from '@billing/testing/ports';
import { startProcess, type BenchProcess } from './child-process';
import type { BenchDatabase } from './database';
import { settings, WEBHOOK_SECRET } from '../settings';
import { redisBackend, type BenchBackend } from './queue-backend';

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

/** The real ingress (`apps/ingress`) on a free port, enqueuing into `queueName` on `backend` (Redis unless named). */
export async function startIngress(
  queueName: string,
  env: Record<string, string> = {},
  backend: BenchBackend = redisBackend(),
): Promise<ServingProcess> {
  const port = await freePort();
  const process = await startProcess(
    'ingress',
    'apps/ingress/src/server.ts',
    {
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      PORT: String(port),
      HOST: '127.0.0.1',
      INGRESS_METRICS_PORT: '0',
      QUEUE_NAME: queueName,
      LOG_LEVEL: settings.logLevel,
      ...backend.env,
      ...env,
    },
    /ingress listening/,
    { nodeArgs: appNodeArgs() },
  );
  return { process, port };
}

export interface WorkerProcessOptions {
  /** @defaultValue 'worker' */
  name?: string;
  /** Where the queue is. @defaultValue the local Redis */
  backend?: BenchBackend;
  /** The script run: the real worker, or the bench's own (`servers/outbox-switch-worker.ts`). @defaultValue 'apps/worker/src/server.ts' */
  script?: string;
  env?: Record<string, string>;
}

/** A real worker (`apps/worker`) at `concurrency` on `queueName`, with its metrics on a free port; batching as the app's defaults unless `BENCH_WORKER_BATCH_*` say otherwise. */
export function startWorkerProcess(
  database: BenchDatabase,
  queueName: string,
  concurrency: number,
  options: WorkerProcessOptions = {},
): Promise<BenchProcess> {
  const { batchSize, batchWaitMs } = settings.worker.batchOverrides;
  return startProcess(
    options.name ?? 'worker',
    options.script ?? 'apps/worker/src/server.ts',
    {
      ...(options.backend ?? redisBackend()).env,
      DATABASE_URL: database.url,
      QUEUE_NAME: queueName,
      WORKER_CONCURRENCY: String(concurrency),
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: settings.logLevel,
      ...(batchSize !== undefined && { WORKER_BATCH_SIZE: String(batchSize) }),
      ...(batchWaitMs !== undefined && { WORKER_BATCH_WAIT_MS: String(batchWaitMs) }),
      ...options.env,
    },
    /"msg":"worker ready"/,
    { nodeArgs: appNodeArgs() },
  );
}
