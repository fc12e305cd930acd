// Types `inject(…)` (the ProvidedContext augmentation lives with the global setup).
import type {} from '@billing/testing/global-setup';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyEvents, defaultBillingConfig } from '@billing/billing';
import { createConnection } from '@billing/db/client';
import { migrateDatabase } from '@billing/db/migrate';
import { migrateQueueSchema } from '@billing/queue';
import { runScript } from '@billing/testing/processes';
import { historyDifferences, prepareHistory } from '@billing/testing/corpus-harness';
import { createTestDatabase, databaseUrl, dropDatabase, type TestDatabase } from '@billing/testing/database';
import { CORPUS_PLAN_PRICES, LIFECYCLE_CORPUS } from '@billing/stripe-simulator/corpus';
import { pgbouncerMissing, startPgBouncer, type PrivatePgBouncer } from '@billing/testing/pgbouncer';
import { shuffled, seededRandom, faultSeed } from '@billing/testing/seeded-random';
import { describeEachBackend } from '@billing/testing/test-queue';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import pLimit from 'p-limit';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { deadApp, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { waitForSettled } from '@billing/testing/faults/settle';
import { differencesFromStripe, eventsOf, historiesTotalling } from '@billing/testing/faults/subscriptions';

/**
 * Postgres behind PgBouncer in transaction mode (as Supabase's and Neon's poolers run): every
 * transaction may land on another server connection, so named prepared statements and session
 * locks break. The worker's transactions and the migrator must lose nothing there.
 *
 * The queue itself stays direct on the Postgres backend (`QUEUE_DATABASE_URL` to Postgres, not
 * to the pooler). Measured with PgBouncer 1.18 (Debian 12), transaction mode: BullMQ's PostgreSQL
 * backend pins `search_path` to its schema with the `options` startup parameter
 * (`-c search_path=…`), which PgBouncer refuses ("unsupported startup parameter: options"), as it
 * refuses the producers' `statement_timeout` startup parameter; told to ignore both
 * (`ignore_startup_parameters`), the connections open but BullMQ's own unqualified SQL then fails
 * (`relation "job" does not exist`: getJobCounts, fetching jobs). And a worker is woken by
 * LISTEN/NOTIFY on a connection of its own, which transaction pooling does not keep (PgBouncer
 * lists LISTEN among the session features it breaks). Session mode does not help with 1.18: it
 * refuses `options` in every pool mode (measured). So the queue needs a direct connection (or a
 * pooler in session mode that forwards `options`); only the billing database may be pooled.
 * Pointed at the pooler anyway, the apps stop at start with one line saying why (tested below).
 */

const missing = pgbouncerMissing();
if (missing) console.log(`[topology] pgbouncer: skipped — ${missing}`);

describe.skipIf(missing !== undefined)('Postgres behind PgBouncer (transaction mode)', () => {
  let t: TestDatabase;
  let pooler: PrivatePgBouncer;
  beforeAll(async () => {
    t = await createTestDatabase('pgbouncer');
    pooler = await startPgBouncer(t.url, { poolSize: 3 });
  });
  afterAll(async () => {
    await pooler?.dispose();
    await t?.drop();
  }, 60_000);

  it('the whole corpus, shuffled, through four connections at once: every event in the ledger, every row as Stripe says', async () => {
    const config = { ...defaultBillingConfig, planPrices: CORPUS_PLAN_PRICES };
    const histories = await Promise.all(LIFECYCLE_CORPUS.map((c) => prepareHistory(t.sql, c, 1_790_000_000)));
    const events = shuffled(
      histories.flatMap((h) => h.built.events),
      seededRandom(faultSeed()),
    );
    const connections = Array.from({ length: 4 }, () => createConnection(pooler.through(t.url)));
    try {
      const lanes = connections.map((connection, lane) => ({
        connection,
        events: events.filter((_, i) => i % connections.length === lane),
      }));
      await Promise.all(
        lanes.map(async ({ connection, events: mine }) => {
          for (let i = 0; i < mine.length; i += 5) {
            const { results } = await applyEvents(connection, mine.slice(i, i + 5), config);
            for (const result of results) if (result instanceof Error) throw result;
          }
        }),
      );
    } finally {
      await Promise.all(connections.map((c) => c.end({ timeout: 5 })));
    }
    const ids = events.map((e) => e.id);
    const [counted] = await t.sql<Array<{ n: number }>>`select count(*)::int as n from webhook_events where stripe_event_id = any(${ids})`;
    expect(counted?.n).toBe(events.length);
    for (const h of histories) expect(await historyDifferences(t.sql, h)).toEqual([]);
  });

  describeEachBackend('a duplicate storm through real ingress and worker processes, the billing database pooled', (backend) => {
    const storm = createCleanupStack();
    afterAll(() => storm.runAll(), 60_000);

    it('every acknowledged event applied once; every row as Stripe says', async () => {
      // The queue direct (see above); the worker's billing transactions through the pooler.
      const s = await openScenario(`pgbouncer_storm_${backend}`, { backend, cleanup: storm });
      const histories = await historiesTotalling(s.db.sql, 150);
      const events = eventsOf(histories);
      const [ingress, worker] = await Promise.all([
        startIngress(storm, { queue: s.queueConfig, queueName: s.queueName, secret: s.secret }),
        startWorker(storm, { databaseUrl: pooler.through(s.db.url), queue: s.queueConfig, queueName: s.queueName }),
      ]);
      const deliveries = await pLimit(30).map(
        shuffled(
          events.flatMap((e) => [e, e, e]),
          seededRandom(faultSeed()),
        ),
        (event) => deliver(ingress.port, event, s.secret),
      );
      const acknowledged = [...new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId))];
      const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([worker, ingress.app]));
      const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [worker] });
      console.log(
        figureLine(`pgbouncer duplicate storm [${backend}]`, figures, {
          deliveries: deliveries.length,
          settled_ms: settle.ms,
          outcomes: figures.outcomes,
        }),
      );
      expect(settle.settled).toBe(true);
      expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
      expect(await differencesFromStripe(s.db.sql, histories)).toEqual([]);
    }, 120_000);
  });

  it('the queue itself behind the pooler: the ingress and the worker stop at start with one line saying why, never half-working', async () => {
    await migrateQueueSchema(t.url, 'bullmq');
    const queue = { QUEUE_BACKEND: 'postgres', QUEUE_DATABASE_URL: pooler.through(t.url), QUEUE_SCHEMA: 'bullmq', QUEUE_NAME: 'pooled' };
    const [ingress, worker] = await Promise.all([
      runScript('apps/ingress/src/server.ts', [], {
        ...queue,
        STRIPE_WEBHOOK_SECRET: 'whsec_pooled_queue',
        PORT: '0',
        INGRESS_METRICS_PORT: '0',
      }),
      runScript('apps/worker/src/server.ts', [], { ...queue, DATABASE_URL: t.url, WORKER_METRICS_PORT: '0' }),
    ]);
    // The fatal log line's message (pino JSON), or the output's end when there is none.
    const fatal = (output: string) => {
      const line = output.split('\n').find((l) => /"level":60/.test(l));
      return line ? String((JSON.parse(line) as { msg?: string }).msg) : output.slice(-400);
    };
    console.log(`[topology] the queue behind PgBouncer (transaction mode): ${fatal(ingress.stdout)} / ${fatal(worker.stdout)}`);
    for (const [app, run] of [
      ['ingress', ingress],
      ['worker', worker],
    ] as const) {
      expect(run.status, `${app}: ${run.stdout}${run.stderr}`).toBe(1);
      expect(fatal(run.stdout)).toMatch(
        new RegExp(
          `${app} failed to start: the queue at postgres .* needs a direct Postgres connection \\(unsupported startup parameter: .*point QUEUE_DATABASE_URL at Postgres itself$`,
        ),
      );
    }
  }, 60_000);

  it('migrates through the pooler: concurrent migrators all succeed, each migration applied once, and no lock is left behind', async () => {
    const name = `${t.name}_migrate`;
    const url = pooler.through(databaseUrl(inject('adminDatabaseUrl'), name));
    try {
      const results = await Promise.all([migrateDatabase(url), migrateDatabase(url), migrateDatabase(url)]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      // The next one does not hang on a lock some earlier client left on a server connection.
      await expect(migrateDatabase(url)).resolves.toEqual({ database: name, created: false });
      const sql = postgres(databaseUrl(inject('adminDatabaseUrl'), name), { max: 1, onnotice: () => {} });
      const [rows] = await sql<Array<{ applied: number; distinct: number }>>`
        select count(*)::int as applied, count(distinct hash)::int as distinct from drizzle.__drizzle_migrations`;
      await sql.end();
      expect(rows?.applied).toBe(rows?.distinct);
      expect(rows?.applied).toBeGreaterThan(1);
    } finally {
      await dropDatabase(inject('adminDatabaseUrl'), name);
    }
  });
});
