/**
 * What the benchmarks run against and how big each phase is. Every figure can be overridden
 * from the environment for a quick look (`BENCH_EVENTS=4000 npm run bench`); the defaults are
 * the issue's: 50 connections for 10 s, 20,000 events over 1,000 subscriptions.
 */
const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
};

export const settings = {
  /** A Postgres URL allowed to create databases; the bench creates and drops its own. */
  adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  /** Log level of the ingress and worker under test: what production runs by default. */
  logLevel: process.env.BENCH_LOG_LEVEL ?? 'info',

  ingress: {
    connections: int('BENCH_CONNECTIONS', 50),
    durationSeconds: int('BENCH_DURATION', 10),
    warmupSeconds: int('BENCH_WARMUP', 2),
  },

  worker: {
    events: int('BENCH_EVENTS', 20_000),
    subscriptions: int('BENCH_SUBSCRIPTIONS', 1_000),
    defaultConcurrency: 100,
    /** Concurrencies tried (besides the default) with a smaller drain each. */
    sweep: (process.env.BENCH_SWEEP ?? '10,50,200').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0),
    /** Events drained (or applied) before each measured figure, discarded. */
    warmupEvents: int('BENCH_WARMUP_EVENTS', 1_000),
    /** The sweep, raw-at-best, scaling and memory drains last about this long at the measured rate… */
    smallDrainSeconds: int('BENCH_SMALL_DRAIN_SECONDS', 8),
    /** …within these bounds. */
    minSmallEvents: int('BENCH_MIN_SMALL_EVENTS', 2_000),
    maxSmallEvents: int('BENCH_MAX_SMALL_EVENTS', 6_000),
    drainTimeoutMs: int('BENCH_DRAIN_TIMEOUT_MS', 180_000),
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
