import { buildDashboard } from '@billing/dashboard/app';
import { openEventQueue, openQueueStore, type QueueConfig, type RedisConfig } from '@billing/queue';
import { runScript, type AppName } from '@billing/testing/processes';
import { startPrivateCluster, type ClusterNode, type PrivateCluster } from '@billing/testing/redis-cluster';
import { redisServerProblem } from '@billing/testing/redis-server';
import { waitFor } from '@billing/testing/wait-for';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { setTimeout as sleep } from 'node:timers/promises';
import { paced } from '@billing/testing/faults/concurrency';
import pLimit from 'p-limit';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { countLogs, deadApp, isAlive, startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, httpRequest, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { waitForSettled } from '@billing/testing/faults/settle';
import { historiesTotalling, interleaved } from '@billing/testing/faults/subscriptions';

const skip = redisServerProblem();
if (skip) console.log(`[topology] redis cluster: skipped — ${skip}`);
const EVENTS = 240;
const PREFIX = '{billing}';
const cleanup = createCleanupStack();
afterAll(() => cleanup.runAll(), 60_000);

describe.skipIf(skip)('topology: Redis Cluster, 3 primaries, QUEUE_PREFIX={billing}', () => {
  let cluster: PrivateCluster;
  let slot: number;
  let owner: ClusterNode;
  let seed: ClusterNode;

  beforeAll(async () => {
    cluster = await startPrivateCluster(3);
    cleanup.defer('stop the cluster', () => cluster.dispose());
    slot = Number(await cluster.nodes[0]?.admin.call('CLUSTER', 'KEYSLOT', PREFIX));
    owner = await cluster.ownerOf(slot);
    seed = cluster.nodes.find((n) => n !== owner) as ClusterNode;
  });

  it('ingress → worker → rows through a seed that does not own the slot, across a live migration of the slot; the dashboard lists the jobs', async () => {
    // REDIS_URL names the seed too, as a user pointing at "the" Redis would: a plain client there gets MOVED.
    const url = `redis://127.0.0.1:${seed.redis.port}`;
    const redis: RedisConfig = { url, clusterNodes: [{ host: '127.0.0.1', port: seed.redis.port }] };
    // Cluster only: the Redis backend (REDIS_CLUSTER_NODES, QUEUE_PREFIX come from the config).
    const queue: QueueConfig = { backend: 'redis', redis, prefix: PREFIX };
    const s = await openScenario('cluster', { backend: 'redis', queue, cleanup });
    const events = interleaved(await historiesTotalling(s.db.sql, EVENTS));
    const [ingress, worker] = await Promise.all([
      startIngress(cleanup, { queue, queueName: s.queueName, secret: s.secret }),
      startWorker(cleanup, { databaseUrl: s.db.url, queue, queueName: s.queueName }),
    ]);

    // 1. A steady stream, and the queue's slot moved to the third node a third of the way in.
    const deliveries: Delivery[] = [];
    const stream = paced(events, { intervalMs: 20, maxInFlight: 32 }, async (event) => {
      const delivery = await deliver(ingress.port, event, s.secret);
      deliveries.push(delivery);
      return delivery;
    });
    await waitFor(() => deliveries.length >= EVENTS / 3, 'a third of the stream answered', 30_000, 5);
    const target = cluster.nodes.find((n) => n !== owner && n !== seed) as ClusterNode;
    const migrationStarted = performance.now();
    const keysMoved = await cluster.migrateSlot(slot, target, { keysPerBatch: 10, pauseMs: 50 });
    const migrationMs = Math.round(performance.now() - migrationStarted);
    const firstTry = await stream;
    const duringMigration = firstTry.filter((d) => d.endedAt >= migrationStarted && d.startedAt <= migrationStarted + migrationMs);

    // 2. Stripe's retries, a few rounds at most.
    for (let round = 0; round < 10; round += 1) {
      const acknowledged = new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId));
      const missing = events.filter((e) => !acknowledged.has(e.id));
      if (missing.length === 0) break;
      await pLimit(8).map(missing, async (event) => void deliveries.push(await deliver(ingress.port, event, s.secret)));
      await sleep(300);
    }
    const acknowledged = [...new Set(deliveries.filter((d) => d.status === 200).map((d) => d.eventId))];
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 60_000, () => deadApp([worker, ingress.app]));
    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [worker] });
    const ready = await httpRequest({ port: ingress.port, method: 'GET', path: '/readyz' });
    const statuses = (list: Delivery[]) =>
      list.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d.status]: (acc[d.status] ?? 0) + 1 }), {});
    console.log(
      figureLine('cluster, slot migrated mid-stream', figures, {
        keys_moved: keysMoved,
        migration_ms: migrationMs,
        during_migration: statuses(duringMigration),
        first_try: statuses(firstTry),
        worker_error_lines: countLogs([worker], /error/i),
        settled_ms: settle.ms,
      }),
    );

    expect((await cluster.ownerOf(slot)).id).toBe(target.id); // the slot really moved
    expect(keysMoved).toBeGreaterThan(0);
    expect(duringMigration.length).toBeGreaterThan(0); // webhooks were in flight while it moved
    expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
    expect(settle.settled).toBe(true);
    expect(deliveries.filter((d) => d.status !== 200 && d.status !== 503)).toEqual([]);
    expect(ready.status).toBe(200);
    expect(isAlive(ingress.app) && isAlive(worker)).toBe(true);

    // 3. The dashboard (Bull Board's API, through buildDashboard) lists them from the cluster.
    const store = openQueueStore(queue, { role: 'producer', timeoutMs: 5_000 });
    const listedQueue = openEventQueue(store, s.queueName);
    const board = await buildDashboard({ queues: [listedQueue], user: 'ops', password: 'cluster-board' });
    try {
      const authorization = `Basic ${Buffer.from('ops:cluster-board').toString('base64')}`;
      const api = await board.inject({
        method: 'GET',
        url: `/api/queues?activeQueue=${s.queueName}&status=completed&page=1&jobsPerPage=50`,
        headers: { authorization },
      });
      expect(api.statusCode, api.body).toBe(200);
      const listed = (
        api.json() as { queues: Array<{ name: string; counts: Record<string, number>; jobs: Array<{ id: string }> }> }
      ).queues.find((q) => q.name === s.queueName);
      expect(listed?.counts.completed).toBe(events.length);
      expect(listed?.jobs).toHaveLength(50);
      const known = new Set(acknowledged);
      expect(listed?.jobs.every((job) => known.has(job.id))).toBe(true);
    } finally {
      await board.close();
      await listedQueue.close();
      await store.close();
    }
  }, 120_000);

  it.each(['ingress', 'worker', 'dashboard'] as const)(
    '%s: a prefix without a {hash-tag} stops it at start with one clear line',
    async (app) => {
      const { code, stderr, stdout } = await runToExit(app, {
        REDIS_CLUSTER_NODES: cluster.seed(seed),
        QUEUE_PREFIX: 'bull',
        STRIPE_WEBHOOK_SECRET: 'whsec_cluster_prefix_check',
        DASHBOARD_PASSWORD: 'unused-but-long-enough',
      });
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([
        `${app}: QUEUE_PREFIX must contain a {hash-tag}, such as {billing}, when REDIS_CLUSTER_NODES is set, so that all of a queue's keys live in one cluster slot (got "bull")`,
      ]);
      expect(stdout).toBe('');
    },
  );
});

async function runToExit(app: AppName, env: Record<string, string>): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
  const { status, stdout, stderr } = await runScript(`apps/${app}/src/server.ts`, [], env, 30_000);
  return { code: status, stdout, stderr };
}
