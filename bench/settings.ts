import { workerEnvShape } from '@billing/worker/env';

/**
 * What the benchmarks run against and how big each phase is. Every figure can be overridden
 * from the environment for a quick look (`BENCH_EVENTS=4000 npm run bench`); the defaults are
 * the issues': 50 connections for 10 s, 20,000 events over 1,000 subscriptions, pgbench at 10
 * clients, a burst of 2,000 events 50 in flight.
 */
const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
};

const list = (name: string, fallback: string): number[] =>
  (process.env[name] ?? fallback)
    .split(',')
    .filter((v) => v.trim() !== '')
    .map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must list positive integers, got ${process.env[name]}`);
      return n;
    });

/** An optional integer ≥ 0 (unset: undefined). */
const optionalInt = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be an integer ≥ 0, got ${raw}`);
  return value;
};

/** The worker's own defaults, so the bench measures what a deployment gets without tuning… */
const workerDefaults = {
  concurrency: workerEnvShape.WORKER_CONCURRENCY.parse(undefined),
  batchSize: workerEnvShape.WORKER_BATCH_SIZE.parse(undefined),
  batchWaitMs: workerEnvShape.WORKER_BATCH_WAIT_MS.parse(undefined),
};
/** …unless these say otherwise (passed to every worker as WORKER_BATCH_SIZE / WORKER_BATCH_WAIT_MS). */
const batchOverrides = { batchSize: optionalInt('BENCH_WORKER_BATCH_SIZE'), batchWaitMs: optionalInt('BENCH_WORKER_BATCH_WAIT_MS') };

const pgbenchClients = list('BENCH_PGBENCH_CLIENTS', '10,2');

export type QueueBackendName = 'redis' | 'postgres';
/** Queue backends compared side by side (`BENCH_BACKENDS`, default both). */
const backends = (process.env.BENCH_BACKENDS ?? 'redis,postgres')
  .split(',')
  .map((v) => v.trim())
  .filter(Boolean)
  .map((v) => {
    if (v !== 'redis' && v !== 'postgres')
      throw new Error(`BENCH_BACKENDS must list redis and/or postgres, got ${process.env.BENCH_BACKENDS}`);
    return v as QueueBackendName;
  });

export const settings = {
  /** A Postgres URL allowed to create databases; the bench creates and drops its own. */
  adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  /** Log level of the ingress and worker under test: what production runs by default. */
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'info',
  /** When set, the ingress and worker children run with `--cpu-prof` and write their profiles here. */
  profileDir: process.env.BENCH_PROFILE_DIR,
  /** `BENCH_TRACK_FUNCTIONS=1`: the bench database tracks PL/pgSQL functions (`track_functions`), and the backends phase reports where Postgres's time went. */
  trackFunctions: process.env.BENCH_TRACK_FUNCTIONS === '1',

  pgbench: {
    binary: process.env.BENCH_PGBENCH ?? 'pgbench',
    /** Client counts; the first is the one the worker is compared with at the same concurrency. */
    clients: pgbenchClients,
    seconds: int('BENCH_PGBENCH_SECONDS', 5),
  },

  burst: {
    events: int('BENCH_BURST_EVENTS', 2_000),
    inFlight: int('BENCH_BURST_IN_FLIGHT', 50),
    /** Alternating rounds (synchronous, queued, synchronous…); the medians are compared. */
    rounds: int('BENCH_BURST_ROUNDS', 3),
    /** A burst of this many (other) events into each first, applied and discarded: the processes are warm. */
    warmupEvents: int('BENCH_BURST_WARMUP', 3_000),
    /** Connections of the synchronous reference (one per request in flight, up to this many). */
    syncConnections: int('BENCH_SYNC_CONNECTIONS', 10),
  },

  ingress: {
    connections: int('BENCH_CONNECTIONS', 50),
    durationSeconds: int('BENCH_DURATION', 10),
    warmupSeconds: int('BENCH_WARMUP', 2),
    /** Sizes the pool of pre-signed deliveries (rate × seconds): a rate no server here reaches. */
    maxRate: int('BENCH_MAX_RATE', 16_000),
  },

  /** `--only slow-clients`: slow connections against one ingress, for this long. */
  slowClients: {
    connections: int('BENCH_SLOW_CONNECTIONS', 200),
    seconds: int('BENCH_SLOW_SECONDS', 30),
  },

  /** `bench/entry/replica-ack.ts`: alternating rounds of 0 and 1, and the pool of pre-signed deliveries. */
  replicaAck: {
    rounds: int('BENCH_ROUNDS', 3),
    maxRate: int('BENCH_MAX_RATE', 10_000),
  },

  worker: {
    events: int('BENCH_EVENTS', 20_000),
    subscriptions: int('BENCH_SUBSCRIPTIONS', 1_000),
    defaults: workerDefaults,
    batchOverrides,
    defaultConcurrency: workerDefaults.concurrency,
    /** The concurrency compared with pgbench at its (first) client count. */
    pgbenchConcurrency: pgbenchClients[0] ?? 10,
    /** Further concurrencies drained, to show how batching behaves. */
    sweep: list('BENCH_SWEEP', '50,200'),
    /** Events of each sweep drain and of the headline worker's second drain (memory). */
    sweepEvents: int('BENCH_SWEEP_EVENTS', 8_000),
    /** Events drained (or applied) before each measured figure, discarded. */
    warmupEvents: int('BENCH_WARMUP_EVENTS', 1_000),
    drainTimeoutMs: int('BENCH_DRAIN_TIMEOUT_MS', 180_000),
  },

  /** Both queue backends side by side: the ingress's acknowledgement and a worker drain on each, against pgbench. */
  backends: {
    names: backends,
    /** Events of each backend's drain (at the worker's default concurrency). */
    drainEvents: int('BENCH_BACKEND_EVENTS', 8_000),
    /** Drain sizes for the Postgres backend's rate-versus-queue-length check (`--only queue-length`). */
    queueLengths: list('BENCH_QUEUE_LENGTHS', '2000,8000,20000'),
  },

  /** Issue 22 "Cost": drains with and without the outbox written, alternating. */
  outbox: {
    events: int('BENCH_OUTBOX_EVENTS', 8_000),
    /** Pairs of drains (with, without). */
    rounds: int('BENCH_OUTBOX_ROUNDS', 2),
  },

  latency: {
    durationSeconds: int('BENCH_LATENCY_DURATION', 10),
    /** Sent at the same rate first, so the processes are warm (a production worker is). */
    warmupSeconds: int('BENCH_LATENCY_WARMUP', 3),
    /** Offered load as a fraction of the measured end-to-end capacity. */
    loadFraction: 0.5,
  },

  /** Memory targets (MiB) from the issue. */
  memoryTargets: { ingressMiB: 200, workerMiB: 256 },
} as const;

export const WEBHOOK_SECRET = 'whsec_bench_only_not_a_real_secret_0123456789';
export const WEBHOOK_PATH = '/checkout/webhooks/stripe';
