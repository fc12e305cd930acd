import { readFileSync } from 'node:fs';
import { CORPUS_PLAN_PRICES } from '@billing/stripe-simulator/corpus';
import { freePort } from '@billing/testing/ports';
import type { QueueConfig } from '@billing/queue';
import { startApp, type AppName, type AppProcess } from '@billing/testing/processes';
import { queueEnvOf } from '@billing/testing/test-queue';
import type { CleanupStack } from './cleanup-stack';

/** Every app process this test file started; killed on exit if `afterAll` never got to them. */
const running = new Set<AppProcess>();
process.once('exit', () => {
  for (const app of running) if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill('SIGKILL');
});

async function launch(cleanup: CleanupStack, name: AppName, env: Record<string, string>, ready: RegExp): Promise<AppProcess> {
  const starting = startApp(name, env, ready);
  // On the stack before it is ready: when a sibling started with it fails (Promise.all), the
  // file's cleanup still waits for this one and stops it, rather than leaving it orphaned.
  cleanup.defer(`stop ${name}`, async () => {
    const app = await starting.catch(() => undefined);
    await app?.stop('SIGTERM', 8_000);
  });
  const app = await starting;
  running.add(app);
  void app.exited.then(() => running.delete(app));
  return app;
}

export interface IngressProcess {
  app: AppProcess;
  port: number;
}

export async function startIngress(
  cleanup: CleanupStack,
  options: { queue: QueueConfig; queueName: string; secret: string; env?: Record<string, string> },
): Promise<IngressProcess> {
  const port = await freePort();
  const app = await launch(
    cleanup,
    'ingress',
    {
      STRIPE_WEBHOOK_SECRET: options.secret,
      PORT: String(port),
      HOST: '127.0.0.1',
      INGRESS_METRICS_PORT: '0',
      ...queueEnvOf(options.queue),
      QUEUE_NAME: options.queueName,
      ...options.env,
    },
    /"msg":"ingress listening"/,
  );
  return { app, port };
}

export interface WorkerOptions {
  databaseUrl: string;
  queue: QueueConfig;
  queueName: string;
  /** @defaultValue the app's default */
  concurrency?: number;
  /** Short, so a SIGKILLed worker's jobs come back within seconds. @defaultValue 3000 */
  lockDurationMs?: number;
  /** More variables (a Redis topology, …). */
  env?: Record<string, string>;
}

export function startWorker(cleanup: CleanupStack, options: WorkerOptions): Promise<AppProcess> {
  return launch(
    cleanup,
    'worker',
    {
      DATABASE_URL: options.databaseUrl,
      ...queueEnvOf(options.queue),
      QUEUE_NAME: options.queueName,
      ...(options.concurrency !== undefined && { WORKER_CONCURRENCY: String(options.concurrency) }),
      WORKER_METRICS_PORT: '0',
      WORKER_LOCK_DURATION_MS: String(options.lockDurationMs ?? 3_000),
      // The price → plan map the corpus histories are checked with.
      PLAN_PRICES: [...CORPUS_PLAN_PRICES].map(([price, slug]) => `${price}=${slug}`).join(','),
      ...options.env,
    },
    /"msg":"worker ready"/,
  );
}

export interface DashboardProcess {
  app: AppProcess;
  port: number;
}

export async function startDashboard(
  cleanup: CleanupStack,
  options: { queue: QueueConfig; queueName: string; user: string; password: string; env?: Record<string, string> },
): Promise<DashboardProcess> {
  const port = await freePort();
  const app = await launch(
    cleanup,
    'dashboard',
    {
      ...queueEnvOf(options.queue),
      QUEUE_NAME: options.queueName,
      DASHBOARD_PORT: String(port),
      DASHBOARD_HOST: '127.0.0.1',
      DASHBOARD_USER: options.user,
      DASHBOARD_PASSWORD: options.password,
      ...options.env,
    },
    /"msg":"dashboard listening"/,
  );
  return { app, port };
}

/** The process's resident set size in KiB (`VmRSS` in /proc/<pid>/status). */
export function residentKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  const kib = Number(line?.match(/(\d+)\s*kB/)?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS for pid ${pid}`);
  return kib;
}

export function isAlive(app: AppProcess): boolean {
  return app.child.exitCode === null && app.child.signalCode === null;
}

/** `undefined` while every app runs; else which one exited, how, and its last output lines. */
export function deadApp(apps: readonly AppProcess[]): string | undefined {
  const dead = apps.find((app) => !isAlive(app));
  if (!dead) return undefined;
  const tail = dead.output().trimEnd().split('\n').slice(-12).join('\n');
  return `${dead.name} (pid ${dead.child.pid}) exited with code ${dead.child.exitCode} signal ${dead.child.signalCode}; last output:\n${tail}`;
}

/** Parsed JSON log lines of a process (pino), skipping anything that is not JSON. */
export function logLines(app: AppProcess): Array<Record<string, unknown>> {
  const lines: Array<Record<string, unknown>> = [];
  for (const text of app.output().split('\n')) {
    if (!text.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      // a line cut by SIGKILL
    }
  }
  return lines;
}

export function countLogs(apps: readonly AppProcess[], msg: string | RegExp): number {
  let count = 0;
  for (const app of apps) {
    for (const line of logLines(app)) {
      const text = String(line.msg ?? '');
      if (typeof msg === 'string' ? text === msg : msg.test(text)) count += 1;
    }
  }
  return count;
}
