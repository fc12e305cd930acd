import type { QueueConfig, RedisConfig } from '@billing/queue';
import type { PrivateRedis } from '@billing/testing/redis-server';
import { startSentinelTopology, type SentinelTopology } from '@billing/testing/redis-sentinel';
import type { AppProcess } from '@billing/testing/processes';
import { waitFor } from '@billing/testing/wait-for';
import type { CleanupStack } from '@billing/testing/faults/cleanup-stack';
import { setTimeout as sleep } from 'node:timers/promises';
import { paced } from '@billing/testing/faults/concurrency';
import pLimit from 'p-limit';
import { figureLine, measureFigures, type Figures } from '@billing/testing/faults/figures';
import { countLogs, deadApp, isAlive, logLines, startIngress, startWorker, type IngressProcess } from '@billing/testing/faults/fleet';
import { deliver, httpRequest, type Delivery } from '@billing/testing/faults/http-client';
import { openScenario, type ScenarioBase } from '@billing/testing/faults/scenario';
import { pendingJobs, waitForSettled } from '@billing/testing/faults/settle';
import type { PreparedHistory } from '@billing/testing/corpus-harness';
import { differencesFromStripe, historiesTotalling, interleaved } from '@billing/testing/faults/subscriptions';
import type { StripeEvent } from '@billing/stripe-simulator/events';

/** 40 webhooks a second per ingress for 9 s: the fault lands early and the stream outlives the failover. */
export const EVENTS = 360;
const INTERVAL_MS = 25;
/** The replica receives the primary's writes this late: whatever was acknowledged in the last 0.4 s before a failover exists only on the primary. */
export const REPLICATION_DELAY_MS = 400;
/** Stripe retries what was not acknowledged; so does the test, for at most this long after the stream. */
const REDELIVERY_WINDOW_MS = 40_000;

export type Fault = 'primary SIGKILLed' | 'SENTINEL FAILOVER';

export interface ScenarioOutcome {
  minReplicasAck: number;
  figures: Figures;
  /** Acknowledged events whose job is not on the primary after the failover: acknowledged, then lost by Redis. */
  missingFromNewPrimary: string[];
  /** Answers to the first delivery attempts, by status. */
  firstTry: Record<string, number>;
  /** From the fault to the first delivery started after it that was answered 200. */
  outageMs: number;
  /** Non-200 answers started after the fault, and their statuses. */
  refusedAfterFault: Record<string, number>;
  deliveries: Delivery[];
  /** Rows that differ from the histories' final objects at Stripe (only compared when nothing may be lost). */
  stateDifferences?: string[];
  workerErrorLines: number;
  /** Why the ingress answered 503, from its log (`err` of "webhook not enqueued"), counted. */
  refusalReasons: Record<string, number>;
  pidsUnchanged: boolean;
  alive: boolean;
  readyAfter: number;
  settled: boolean;
  line: string;
}

export interface FailoverOutcome {
  fault: Fault;
  /** From the fault until every sentinel names the replica as the master. */
  promotedMs: number;
  /** From the fault until the old primary replicates from the new one (a replica again, so `WAIT 1` can succeed). */
  replicaBackMs: number;
  withAck: ScenarioOutcome;
  withoutAck: ScenarioOutcome;
}

interface Side {
  minReplicasAck: number;
  s: ScenarioBase;
  events: StripeEvent[];
  histories?: PreparedHistory[];
  ingress: IngressProcess;
  worker: AppProcess;
  deliveries: Delivery[];
}

/**
 * A Sentinel topology (primary, replica behind a delayed replication link, three sentinels),
 * and two pipelines side by side on it — an ingress and a worker with `REDIS_MIN_REPLICAS_ACK=1`,
 * and the same with 0 — each fed its own steady stream of signed events while `fault` happens.
 * A SIGKILLed primary is restarted once the replica is promoted, as a supervisor would, so that
 * the new primary gets a replica again.
 */
export async function runSentinelFailover(fault: Fault, cleanup: CleanupStack): Promise<FailoverOutcome> {
  const topology = await startSentinelTopology({ replicationDelayMs: REPLICATION_DELAY_MS });
  cleanup.defer('stop the sentinel topology', () => topology.dispose());
  const redis: RedisConfig = {
    url: topology.url,
    sentinels: { name: topology.name, nodes: topology.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })) },
  };
  // Sentinel only: the Redis backend (REDIS_SENTINELS and REDIS_SENTINEL_NAME come from the config).
  const queue: QueueConfig = { backend: 'redis', redis, prefix: 'bull' };

  // 1. Two pipelines, each with its own database, queue, stream and processes.
  const sides = await Promise.all(
    [1, 0].map(async (minReplicasAck): Promise<Side> => {
      const label = `sentinel_${fault === 'SENTINEL FAILOVER' ? 'failover' : 'kill'}_ack${minReplicasAck}`;
      const s = await openScenario(label, { backend: 'redis', queue, cleanup });
      const histories = await historiesTotalling(s.db.sql, EVENTS);
      const [ingress, worker] = await Promise.all([
        startIngress(cleanup, {
          queue,
          queueName: s.queueName,
          secret: s.secret,
          env: { REDIS_MIN_REPLICAS_ACK: String(minReplicasAck) },
        }),
        startWorker(cleanup, { databaseUrl: s.db.url, queue, queueName: s.queueName }),
      ]);
      return {
        minReplicasAck,
        s,
        events: interleaved(histories),
        ...(minReplicasAck > 0 && { histories }),
        ingress,
        worker,
        deliveries: [],
      };
    }),
  );
  const pids = sides.map((side) => [side.ingress.app.child.pid, side.worker.child.pid]);

  // 2. The streams, and the fault a quarter of the way in.
  const streams = sides.map((side) =>
    paced(side.events, { intervalMs: INTERVAL_MS, maxInFlight: 48 }, async (event) => {
      const delivery = await deliver(side.ingress.port, event, side.s.secret);
      side.deliveries.push(delivery);
      return delivery;
    }),
  );
  await waitFor(() => sides.every((side) => side.deliveries.length >= EVENTS / 5), 'a fifth of each stream answered', 30_000, 5);
  const faultAt = performance.now();
  if (fault === 'primary SIGKILLed') {
    await topology.primary.stop(true);
  } else {
    const sentinel = topology.sentinels[0]?.client();
    await sentinel?.call('SENTINEL', 'FAILOVER', topology.name);
    sentinel?.disconnect();
  }
  await waitFor(
    async () => (await topology.masterPort().catch(() => -1)) === topology.replica.port,
    'the sentinels to promote the replica',
    30_000,
    50,
  );
  const promotedMs = performance.now() - faultAt;
  if (fault === 'primary SIGKILLed') await topology.primary.start();
  // Usually 10–13 s (the sentinels notice the returned primary on their next INFO and convert it);
  // once, on a loaded machine, over 40 s: a generous bound, the figure is what the line reports.
  await waitFor(
    () => replicatesFrom(topology.primary, topology.replica.port),
    'the old primary to replicate from the new one',
    75_000,
    100,
  );
  const replicaBackMs = performance.now() - faultAt;
  const firstTries = await Promise.all(streams);

  // 3. Stripe redelivers what was not acknowledged, for a while.
  const redeliveryEnds = performance.now() + REDELIVERY_WINDOW_MS;
  while (performance.now() < redeliveryEnds) {
    const missing = sides.flatMap((side) => {
      const acknowledged = new Set(side.deliveries.filter((d) => d.status === 200).map((d) => d.eventId));
      return side.events.filter((e) => !acknowledged.has(e.id)).map((event) => ({ side, event }));
    });
    if (missing.length === 0) break;
    await pLimit(8).map(missing, async ({ side, event }) => {
      side.deliveries.push(await deliver(side.ingress.port, event, side.s.secret));
    });
    await sleep(500);
  }

  // 4. Figures for each side.
  const outcomes = await Promise.all(
    sides.map(async (side, index): Promise<ScenarioOutcome> => {
      const acknowledged = [...new Set(side.deliveries.filter((d) => d.status === 200).map((d) => d.eventId))];
      const onNewPrimary = await existingJobs(topology, side.s.queueName, acknowledged);
      const missingFromNewPrimary = acknowledged.filter((id) => !onNewPrimary.has(id));
      const lostForGood = new Set(missingFromNewPrimary);
      // A job Redis lost cannot be waited for; everything else must reach the ledger.
      const settle = await waitForSettled(
        side.s.db.sql,
        side.s.queue,
        acknowledged.filter((id) => !lostForGood.has(id)),
        30_000,
        () => deadApp([side.worker, side.ingress.app]),
      );
      await waitFor(async () => (await pendingJobs(side.s.queue)) === 0, 'nothing pending', 20_000).catch(() => undefined);
      const figures = await measureFigures(side.s.db.sql, { sent: side.events.map((e) => e.id), acknowledged, workers: [side.worker] });
      const after = side.deliveries.filter((d) => d.startedAt >= faultAt);
      const firstOk = Math.min(...after.filter((d) => d.status === 200).map((d) => d.startedAt));
      const ready = await httpRequest({ port: side.ingress.port, method: 'GET', path: '/readyz' });
      const outcome: Omit<ScenarioOutcome, 'line'> = {
        minReplicasAck: side.minReplicasAck,
        figures,
        missingFromNewPrimary,
        firstTry: statusCounts(firstTries[index] ?? []),
        outageMs: Math.round(firstOk - faultAt),
        refusedAfterFault: statusCounts(after.filter((d) => d.status !== 200)),
        deliveries: side.deliveries,
        stateDifferences: side.histories ? await differencesFromStripe(side.s.db.sql, side.histories) : undefined,
        workerErrorLines: countLogs([side.worker], /error/i),
        refusalReasons: refusalReasons(side.ingress.app),
        pidsUnchanged: side.ingress.app.child.pid === pids[index]?.[0] && side.worker.child.pid === pids[index]?.[1],
        alive: isAlive(side.ingress.app) && isAlive(side.worker),
        readyAfter: ready.status,
        settled: settle.settled,
      };
      const line = figureLine(`sentinel, ${fault}, REDIS_MIN_REPLICAS_ACK=${side.minReplicasAck}`, figures, {
        missing_from_new_primary: missingFromNewPrimary.length,
        outage_ms: outcome.outageMs,
        promoted_ms: Math.round(promotedMs),
        replica_back_ms: Math.round(replicaBackMs),
        refused_after_fault: outcome.refusedAfterFault,
        first_try: outcome.firstTry,
        replication_delay_ms: REPLICATION_DELAY_MS,
        worker_error_lines: outcome.workerErrorLines,
        refusal_reasons: outcome.refusalReasons,
        settled_ms: settle.ms,
      });
      return { ...outcome, line };
    }),
  );
  return {
    fault,
    promotedMs: Math.round(promotedMs),
    replicaBackMs: Math.round(replicaBackMs),
    withAck: outcomes[0] as ScenarioOutcome,
    withoutAck: outcomes[1] as ScenarioOutcome,
  };
}

/** Whether `node` is a replica of the server on `primaryPort` with its link up (a fresh connection: sentinels kill clients when they reconfigure a node). */
async function replicatesFrom(node: PrivateRedis, primaryPort: number): Promise<boolean> {
  const client = node.client();
  client.on('error', () => {});
  try {
    const info = String(await client.info('replication'));
    return /role:slave/.test(info) && info.includes(`master_port:${primaryPort}`) && /master_link_status:up/.test(info);
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Which of `ids` have a job hash on the current master (any state: completed jobs are retained). */
async function existingJobs(topology: SentinelTopology, queueName: string, ids: readonly string[]): Promise<Set<string>> {
  const port = await topology.masterPort();
  const master = [topology.primary, topology.replica].find((node) => node.port === port);
  if (!master) throw new Error(`the sentinels name port ${port}, which is neither node`);
  const client = master.client();
  try {
    const pipeline = client.pipeline();
    for (const id of ids) pipeline.exists(`bull:${queueName}:${id}`);
    const results = (await pipeline.exec()) ?? [];
    return new Set(ids.filter((_, i) => results[i]?.[1] === 1));
  } finally {
    client.disconnect();
  }
}

function refusalReasons(ingress: AppProcess): Record<string, number> {
  const reasons: Record<string, number> = {};
  for (const line of logLines(ingress)) {
    if (line.msg !== 'webhook not enqueued: the queue did not acknowledge') continue;
    const reason = String(line.err).replace(/\d+/g, 'N');
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return reasons;
}

function statusCounts(list: readonly Delivery[]): Record<string, number> {
  return list.reduce<Record<string, number>>((acc, d) => ({ ...acc, [d.status]: (acc[d.status] ?? 0) + 1 }), {});
}
