import type { Job } from 'bullmq';
import { DEFAULT_ACCESS_POLICY, type AccessPolicy, type ApplyOptions, type BillingConfig } from '@billing/billing';
import { createConnection } from '@billing/db/client';
import { isConnectionError } from '@billing/db/postgres-errors';
import {
  jobSigner,
  openEventQueue,
  openQueueStore,
  type EventQueue,
  type NotificationQueue,
  type QueueConfig,
  type QueueStore,
  type StoreWorker,
  type StripeEventJobData,
  type StripeEvent,
  type StripeEventJobResult,
} from '@billing/queue';
import type { Logger } from '@billing/runtime/logger';
import type { StateSweepReport } from '@billing/reconcile';
import type { Registry } from '@billing/runtime/metrics';
import Stripe from 'stripe';
import { startAccessClock } from './access-clock';
import { createWorkerMetrics, registerOutboxGauges, registerQueueGauges } from './metrics';
import { startNotifications, type NotifySettings } from './notifications';
import { startOutboxRetention } from './outbox-retention';
import { databaseGate, type DatabaseGate } from './database-gate';
import { startFailedExpiry } from './failed-expiry';
import { createProcessor, metricType, type BatchSettings } from './processor';
import { unresolvedRecovery } from './unresolved-recovery';
import { registerReconcileGauges, startReconcileSchedule } from './reconcile-schedule';
import { startUnresolvedSweep } from './unresolved-sweep';
import type { ThinObjectFetcher } from './thin-events';

export interface StartWorkerOptions {
  /** Where the queue lives (`queueConfigFromEnv`); the worker opens and closes its own store. */
  queue: QueueConfig;
  queueName: string;
  /** @defaultValue 100 */
  concurrency?: number;
  /** BullMQ lock duration and stalled-check interval. @defaultValue 30000 */
  lockDurationMs?: number;
  /** Postgres; the worker opens one connection per transaction it runs at once (`batch.maxInFlight`). */
  databaseUrl: string;
  /** `QUEUE_SIGNING_KEY`: the keys a job's signature is checked against. */
  jobSigningKeys: readonly string[];
  config: BillingConfig;
  applyOptions?: ApplyOptions;
  /** How the events of concurrently active jobs are grouped into transactions. */
  batch?: BatchSettings;
  /** Between sweeps of `unresolved` events whose user became findable; 0: no sweep. @defaultValue 300000 */
  sweepIntervalMs?: number;
  /** How long a job is kept after it failed for good (`WORKER_FAILED_RETENTION_DAYS`), then removed. @defaultValue 30 days */
  failedRetentionMs?: number;
  /** Between removals of the failed jobs past that retention; 0: none (only `expireFailed`). @defaultValue 3600000 */
  failedExpiryIntervalMs?: number;
  /** Fetches the object a thin event names (`stripeThinFetcher`); without it, thin events fail with a reason. */
  fetchThinObject?: ThinObjectFetcher;
  /** An event from the Stripe Events API, to queue again an unresolved event whose job left the queue. */
  fetchEvent?: (eventId: string) => Promise<StripeEvent | undefined>;
  /** The access policy (`ACCESS_PAST_DUE_GRACE_DAYS`). @defaultValue DEFAULT_ACCESS_POLICY (7 days of grace) */
  accessPolicy?: AccessPolicy;
  /** Between runs of the access clock (access_until come: revoked); 0: none (only `accessClock`). @defaultValue 15000 */
  accessClockIntervalMs?: number;
  /** The scheduled reconcile state sweep (with `STRIPE_SECRET_KEY`); without it, none. */
  reconcile?: { stripe: Stripe; intervalMs: number; repair: boolean; tickMs?: number };
  /**
   * The host application's endpoint (`NOTIFY_URL`, `NOTIFY_SECRET`, `NOTIFY_MAX_PER_SECOND`): each
   * outbox row becomes a job on `<queueName>-notifications`, POSTed signed. Without it rows are
   * written and nothing is sent. `timeoutMs`, `retry` and `orderWaitMs` are for tests.
   */
  notify?: NotifySettings;
  /** Between relay scans for outbox rows without a job (0: only `relayScan`), and how old a row must be for it. @defaultValue 5000, 3000 */
  relayScanIntervalMs?: number;
  relayScanAfterMs?: number;
  /** `OUTBOX_RETENTION_DAYS`, in milliseconds. @defaultValue 30 days */
  outboxRetentionMs?: number;
  /** Between deletions of outbox rows past the retention; 0: only `expireOutbox`. @defaultValue 3600000 */
  outboxRetentionIntervalMs?: number;
  logger: Logger;
  registry: Registry;
}

export interface WorkerHandle {
  worker: StoreWorker<StripeEventJobData, StripeEventJobResult>;
  store: QueueStore;
  queue: EventQueue;
  /** The notifications queue (with `notify` only). */
  notifications?: NotificationQueue;
  /** Writes the jobs of outbox rows still without one now (with `notify` only; else 0). */
  relayScan: () => Promise<number>;
  /** Deletes the outbox rows past their retention now; resolves with how many. */
  expireOutbox: () => Promise<number>;
  /** Paused while Postgres is unreachable, and why. */
  readiness: DatabaseGate['readiness'];
  /** Runs the unresolved-events sweep now (if another worker has not within the interval). */
  sweep: () => Promise<void>;
  /** Removes the failed jobs past their retention now; resolves with how many. */
  expireFailed: () => Promise<number>;
  /** Runs the access clock now; resolves with the outbox ids it committed. */
  accessClock: () => Promise<number[]>;
  /** Runs the reconcile state sweep now (undefined without `reconcile`, or when another worker holds it). */
  reconcile: (force?: boolean) => Promise<StateSweepReport | undefined>;
  /** Stops fetching, waits for active jobs, then closes the queue, its store and the Postgres connections. */
  close: () => Promise<void>;
}

export async function startWorker(options: StartWorkerOptions): Promise<WorkerHandle> {
  const { logger, registry } = options;
  const lockDuration = options.lockDurationMs ?? 30_000;
  const store = openQueueStore(options.queue, { role: 'consumer', applicationName: 'billing-worker' });
  const queue = openEventQueue(store, options.queueName);
  const metrics = createWorkerMetrics(registry);
  const failedRetentionMs = options.failedRetentionMs ?? 30 * 86_400_000;
  registerQueueGauges(registry, queue, failedRetentionMs);

  const batchConnection = () => createConnection(options.databaseUrl, 'billing-worker');
  const connections = Array.from({ length: options.batch?.maxInFlight ?? 2 }, batchConnection);
  // Probes and sweeps on a connection of their own, so neither waits behind a batch.
  const probeConnection = createConnection(options.databaseUrl, 'billing-worker-probe');
  // The gate pauses the worker it is created before.
  const running: { worker?: StoreWorker<StripeEventJobData, StripeEventJobResult> } = {};
  const gate = databaseGate({
    // The billing database, and on the Postgres backend the queue's store too (it may be another server).
    probe: async () => {
      await probeConnection`select 1`;
      if (store.backend === 'postgres' && !(await store.isWritable())) throw new Error('the queue database takes no writes');
    },
    pause: async () => {
      await running.worker?.pause(true);
    },
    resume: async () => {
      await running.worker?.resume();
    },
    logger,
    onChange: (paused) => metrics.paused.set(paused ? 1 : 0),
  });
  // The outbox's relay, sender and retention on connections of their own: never inside a batch.
  const outboxConnection = createConnection(options.databaseUrl, 'billing-worker-outbox');
  const notify = options.notify;
  const notifications = notify
    ? startNotifications({
        store,
        queueName: options.queueName,
        databaseUrl: options.databaseUrl,
        notify,
        relayScanIntervalMs: options.relayScanIntervalMs,
        relayScanAfterMs: options.relayScanAfterMs,
        lockDurationMs: lockDuration,
        logger,
        metrics,
      })
    : undefined;
  const onOutbox = notifications?.relay;
  if (notify) registerOutboxGauges(registry, outboxConnection);
  const retention = startOutboxRetention({
    connection: outboxConnection,
    retentionMs: options.outboxRetentionMs ?? 30 * 86_400_000,
    notifying: Boolean(notify),
    intervalMs: options.outboxRetentionIntervalMs,
    logger,
    metrics,
  });
  const signer = jobSigner(options.jobSigningKeys);
  const accessPolicy = options.accessPolicy ?? options.applyOptions?.accessPolicy ?? DEFAULT_ACCESS_POLICY;
  const recover = unresolvedRecovery({ store, queue, signer, logger, metrics, fetchEvent: options.fetchEvent });
  const processor = createProcessor({
    signer,
    fetchThinObject: options.fetchThinObject,
    databaseLost: gate.lost,
    connections,
    reconnect: (abandoned) => {
      const fresh = batchConnection();
      connections.splice(connections.indexOf(abandoned), 1, fresh); // closed with the others at shutdown
      return fresh;
    },
    // A batch outliving the lock is abandoned: the lock is renewed all the while, so nothing else takes its jobs back.
    batchTimeoutMs: lockDuration,
    config: options.config,
    applyOptions: { ...options.applyOptions, accessPolicy },
    metrics,
    logger,
    sdkApiVersion: Stripe.API_VERSION,
    batch: options.batch,
    rerun: recover,
    onOutbox,
  });
  const worker = store.worker<StripeEventJobData, StripeEventJobResult>(options.queueName, processor, {
    concurrency: options.concurrency ?? 10,
    lockDuration,
    stalledInterval: lockDuration,
    // Handlers are idempotent, so a job caught in a crash may safely run again; a job that
    // takes its worker down three times is failed for an operator to look at.
    maxStalledCount: 3,
  });

  worker.on('error', (error) => {
    // On the Postgres queue a lost connection comes back as an error of each fetch, retried at once
    // by BullMQ: pause and probe instead, as for the billing database (one log line, no spinning).
    if (store.backend === 'postgres' && isConnectionError(error)) gate.lost(error);
    else logger.error({ err: error }, 'worker error');
  });
  worker.on('failed', (job: Job<StripeEventJobData> | undefined, error: Error) => {
    if (!job) return;
    const type = job.data?.type ?? job.name;
    const final = error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    const fields = { eventId: job.id, eventType: type, attemptsMade: job.attemptsMade, reason: error.message };
    if (final) {
      metrics.failures.inc({ type: metricType(type), kind: 'final' });
      logger.error(
        { ...fields, alert: 'event_failed_permanently' },
        'ALERT: event failed permanently; retry it from the dashboard or with npm run replay',
      );
    } else {
      metrics.failures.inc({ type: metricType(type), kind: 'retry' });
      logger.warn({ ...fields, err: error }, 'event failed; will retry with backoff');
    }
  });
  worker.on('stalled', (jobId) => logger.warn({ eventId: jobId }, 'job stalled (a worker died or blocked); it will run again'));

  await worker.waitUntilReady();
  await notifications?.waitUntilReady();
  running.worker = worker;
  const sweepIntervalMs = options.sweepIntervalMs ?? 300_000;
  const sweep = startUnresolvedSweep({
    intervalMs: sweepIntervalMs,
    connection: probeConnection,
    logger,
    metrics,
    recover,
    accessPolicy,
    onOutbox,
  });
  const clockConnection = createConnection(options.databaseUrl, 'billing-worker-clock');
  const clock = startAccessClock({
    intervalMs: options.accessClockIntervalMs ?? 15_000,
    connection: clockConnection,
    policy: accessPolicy,
    logger,
    metrics,
    onOutbox,
  });
  // The reconcile sweep: its reads and progress, and its repairs, on connections of their own.
  const reconcileConnections = options.reconcile
    ? {
        sql: createConnection(options.databaseUrl, 'billing-worker-reconcile'),
        apply: createConnection(options.databaseUrl, 'billing-worker-reconcile'),
      }
    : undefined;
  if (reconcileConnections) registerReconcileGauges(registry, reconcileConnections.sql, options.reconcile!.intervalMs);
  const reconcile =
    options.reconcile && reconcileConnections
      ? startReconcileSchedule({
          ...options.reconcile,
          sql: reconcileConnections.sql,
          connection: reconcileConnections.apply,
          queue,
          config: options.config,
          accessPolicy,
          logger,
        })
      : undefined;
  const expiryIntervalMs = options.failedExpiryIntervalMs ?? 3_600_000;
  const expiry = startFailedExpiry({ queue, retentionMs: failedRetentionMs, intervalMs: expiryIntervalMs, logger, metrics });
  return {
    worker,
    store,
    queue,
    notifications: notifications?.queue,
    relayScan: () => notifications?.relayScan() ?? Promise.resolve(0),
    expireOutbox: () => retention.runOnce(),
    readiness: gate.readiness,
    sweep: () => sweep.runOnce(),
    expireFailed: () => expiry.runOnce(),
    accessClock: () => clock.runOnce(),
    reconcile: async (force) => reconcile?.runOnce(force),
    close: async () => {
      expiry.stop();
      await reconcile?.stop();
      gate.close();
      await worker.close();
      await sweep.stop();
      await clock.stop();
      await notifications?.close();
      await retention.stop();
      await queue.close();
      await store.close();
      const own = reconcileConnections ? [reconcileConnections.sql, reconcileConnections.apply] : [];
      await Promise.all([...connections, probeConnection, clockConnection, outboxConnection, ...own].map((c) => c.end({ timeout: 5 })));
    },
  };
}
