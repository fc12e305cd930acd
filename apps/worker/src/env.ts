import { DEFAULT_METADATA_PREFIX, DEFAULT_PAST_DUE_GRACE_DAYS, DEFAULT_PLAN_SLUGS } from '@billing/billing';
import { checkQueueEnv, queueEnvFields } from '@billing/queue';
import { parseInterval } from '@billing/reconcile';
import { envFields, loadEnvOrExit, z } from '@billing/runtime/env';

const positiveInt = (fallback: number, max: number) => z.coerce.number().int().min(1).max(max).default(fallback);

export const workerEnvShape = {
  QUEUE_SIGNING_KEY: envFields.QUEUE_SIGNING_KEY,
  ...queueEnvFields,
  LOG_LEVEL: envFields.LOG_LEVEL,
  /** Jobs active at once: their events share transactions, so this is a batching window more than a pool size. */
  WORKER_CONCURRENCY: positiveInt(100, 2_000),
  /** `0` picks a free port (logged at start). */
  WORKER_METRICS_PORT: envFields.port(9464),
  WORKER_METRICS_HOST: envFields.host('127.0.0.1'),
  /** BullMQ lock duration (and stalled-check interval): how soon a crashed worker's jobs return. */
  WORKER_LOCK_DURATION_MS: positiveInt(30_000, 600_000),
  WORKER_SHUTDOWN_TIMEOUT_MS: positiveInt(30_000, 600_000),
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .regex(/^(sk|rk)_(test|live)_\w+$/, { message: 'must be a Stripe secret key (sk_… or rk_…)' })
    .optional(),
  /**
   * Read for its presence only: the ingress takes thin events, so the worker must fetch their
   * objects and needs `STRIPE_SECRET_KEY` (checked below).
   */
  STRIPE_THIN_WEBHOOK_SECRET: z.string().trim().min(1).optional(),
  STRIPE_API_BASE: z
    .string()
    .trim()
    .refine((v) => /^https?:$/.test(safeProtocol(v)), { message: 'must be an http(s) URL' })
    .optional(),
  PLAN_SLUGS: z
    .string()
    .default(DEFAULT_PLAN_SLUGS.join(','))
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .refine((list) => list.length > 0, { message: 'must list at least one plan slug' }),
  METADATA_PREFIX: z.string().default(DEFAULT_METADATA_PREFIX),
  /** `price_id=slug` pairs, comma-separated: the explicit price → plan map. */
  PLAN_PRICES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((pair) => pair.trim())
        .filter(Boolean),
    )
    .refine((pairs) => pairs.every((pair) => /^[^=\s]+=[^=\s]+$/.test(pair)), { message: 'must be comma-separated price_id=slug pairs' })
    .transform(
      (pairs) => new Map(pairs.map((pair) => pair.split('=') as [string, string]).map(([price, slug]) => [price, slug.toLowerCase()])),
    ),
  /** Between sweeps of `unresolved` events whose user became findable (0: no sweep). */
  WORKER_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  /** Days a job is kept after it failed for good, then removed (past Stripe's 3 days of retries and 30 of event retention). */
  WORKER_FAILED_RETENTION_DAYS: positiveInt(30, 3_650),
  /** Most events per Postgres transaction. */
  WORKER_BATCH_SIZE: positiveInt(50, 1_000),
  /** Longest an event waits for others to join its transaction (0: only those ready at once). */
  WORKER_BATCH_WAIT_MS: z.coerce.number().int().min(0).max(1_000).default(2),
  /** Days a `past_due` subscription keeps granting access, from when it became `past_due` (0: none). */
  ACCESS_PAST_DUE_GRACE_DAYS: z.coerce.number().min(0).max(365).default(DEFAULT_PAST_DUE_GRACE_DAYS),
  /** Between scheduled reconcile state sweeps (with STRIPE_SECRET_KEY), in ms: `1d`, `6h`, `30m`; `0`: never. */
  RECONCILE_INTERVAL: z
    .string()
    .default('1d')
    .transform((v, ctx) => {
      const ms = parseInterval(v);
      if (ms === undefined || (ms > 0 && ms < 60_000)) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration of at least a minute (30m, 6h, 1d) or 0 (never)' });
        return z.NEVER;
      }
      return ms;
    }),
  /** Whether the scheduled sweep repairs what it finds (through the lifecycle rules), or only reports it. */
  RECONCILE_REPAIR: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** The host application's endpoint for signed notifications (none: outbox rows are written, nothing is sent). */
  NOTIFY_URL: z
    .string()
    .trim()
    .refine((v) => /^https?:$/.test(safeProtocol(v)), { message: 'must be an http(s) URL' })
    .optional(),
  /** The Standard Webhooks secret the notifications are signed with (required with NOTIFY_URL). */
  NOTIFY_SECRET: z
    .string()
    .trim()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, { message: 'must be a Standard Webhooks secret (whsec_ then base64)' })
    .optional(),
  /** Notification deliveries per second to the host, at most. */
  NOTIFY_MAX_PER_SECOND: positiveInt(50, 10_000),
  /** Days an outbox row is kept (delivered, or nothing to deliver it to), then deleted. */
  OUTBOX_RETENTION_DAYS: positiveInt(30, 3_650),
};

export type WorkerEnv = ReturnType<typeof loadWorkerEnv>;

export function loadWorkerEnv(source: Record<string, string | undefined> = process.env) {
  return loadEnvOrExit('worker', workerEnvShape, source, checkWorkerEnv);
}

/** The checks that span variables: one problem per variable, named. */
export function checkWorkerEnv(env: z.infer<z.ZodObject<typeof workerEnvShape>>) {
  return [
    ...checkQueueEnv(env),
    // Thin events carry no object: without a key to fetch it, each would fail.
    ...(env.STRIPE_THIN_WEBHOOK_SECRET && !env.STRIPE_SECRET_KEY
      ? [
          {
            name: 'STRIPE_SECRET_KEY',
            problem: 'is required when STRIPE_THIN_WEBHOOK_SECRET is set (thin events are fetched from the Stripe API)',
          },
        ]
      : []),
    // PLAN_PRICES must name plans of the catalog, which another variable sets.
    ...[...env.PLAN_PRICES.values()]
      .filter((slug) => !env.PLAN_SLUGS.includes(slug))
      .map((slug) => ({ name: 'PLAN_PRICES', problem: `names "${slug}", not in PLAN_SLUGS (${env.PLAN_SLUGS.join(', ')})` })),
    // Notifications are signed: a URL without its secret would send what no host can verify.
    ...(env.NOTIFY_URL && !env.NOTIFY_SECRET ? [{ name: 'NOTIFY_SECRET', problem: 'is required when NOTIFY_URL is set' }] : []),
  ];
}

function safeProtocol(value: string): string {
  try {
    return new URL(value).protocol;
  } catch {
    return '';
  }
}
