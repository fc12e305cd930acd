/**
 * `npx tsx bench/entry/replica-ack.ts`: what `REDIS_MIN_REPLICAS_ACK=1` costs the ingress. A private
 * primary and its replica on this machine (no AOF, like the local Redis of `npm run bench`), one
 * ingress process per setting, measured alternately (0, 1, 0, 1) with the same load as figure 1
 * of `npm run bench` (autocannon, 50 connections, 10 s per run after a warm-up; `BENCH_ROUNDS`, default 3), so drift on the
 * shared machine falls on both. Prints the comparison and writes bench/results/replica-ack.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '@billing/testing/ports';
import { startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { waitFor } from '@billing/testing/wait-for';
import { killChildren, startProcess, type BenchProcess } from '../harness/child-process';
import { eventMix } from '../harness/event-mix';
import { fireSignedLoad, type LoadResult } from '../phases/ingress';
import { round } from '../report/round';
import { settings, WEBHOOK_SECRET } from '../settings';
import { signRequests } from '../harness/signed-requests';

const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));
const { rounds: ROUNDS, maxRate: RATE_FOR_POOL } = settings.replicaAck;
const log = (line: string) => process.stderr.write(`${line}\n`);

const servers: PrivateRedis[] = [];
const processes: BenchProcess[] = [];
try {
  const primary = await startPrivateRedis();
  servers.push(primary);
  const replica = await startPrivateRedis({ replicaOf: { host: '127.0.0.1', port: primary.port } });
  servers.push(replica);
  const admin = primary.client();
  await waitFor(async () => /connected_slaves:1/.test(String(await admin.info('replication'))), 'the replica to connect');
  const waits = async () => Number(/cmdstat_wait:calls=(\d+)/.exec(String(await admin.info('commandstats')))?.[1] ?? 0);

  const templates = eventMix({ userIds: Array.from({ length: 100 }, (_, i) => i + 1), subscriptions: 100, events: 2_000 });
  const ingress: Record<'0' | '1', { process: BenchProcess; url: string }> = {} as never;
  for (const ack of ['0', '1'] as const) {
    const port = await freePort();
    const started = await startProcess(
      `ingress-ack${ack}`,
      'apps/ingress/src/server.ts',
      {
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: primary.url,
        REDIS_MIN_REPLICAS_ACK: ack,
        QUEUE_NAME: `bench-replica-ack-${ack}`,
        LOG_LEVEL: settings.logLevel,
      },
      /ingress listening/,
    );
    processes.push(started);
    ingress[ack] = { process: started, url: `http://127.0.0.1:${port}` };
  }

  const { connections, durationSeconds, warmupSeconds } = settings.ingress;
  const pool = (seconds: number) => signRequests(templates, seconds * RATE_FOR_POOL, WEBHOOK_SECRET);
  for (const ack of ['0', '1'] as const) {
    log(`warm-up REDIS_MIN_REPLICAS_ACK=${ack}: ${warmupSeconds} s`);
    await fireSignedLoad(ingress[ack].url, pool(warmupSeconds), warmupSeconds, connections);
  }
  const runs: Record<'0' | '1', Array<LoadResult & { waitsPerRequest: number }>> = { '0': [], '1': [] };
  for (let r = 0; r < ROUNDS; r += 1) {
    for (const ack of ['0', '1'] as const) {
      const before = await waits();
      const result = await fireSignedLoad(
        ingress[ack].url,
        pool(durationSeconds),
        durationSeconds,
        connections,
        ingress[ack].process.pid,
        primary.pid(),
      );
      const waitsPerRequest = round(((await waits()) - before) / Math.max(1, result.requests), 3);
      runs[ack].push({ ...result, waitsPerRequest });
      log(
        `  REDIS_MIN_REPLICAS_ACK=${ack} run ${r + 1}: ${result.requestsPerSec} req/s, p99 ${result.p99Ms} ms, non-2xx ${result.non2xx}, WAITs per request ${waitsPerRequest}`,
      );
    }
  }
  admin.disconnect();

  const mean = (list: LoadResult[], pick: (r: LoadResult) => number) => round(list.reduce((sum, r) => sum + pick(r), 0) / list.length);
  const summary = (ack: '0' | '1') => ({
    requestsPerSec: mean(runs[ack], (r) => r.requestsPerSec),
    p50Ms: mean(runs[ack], (r) => r.p50Ms),
    p99Ms: mean(runs[ack], (r) => r.p99Ms),
    non2xx: runs[ack].reduce((sum, r) => sum + r.non2xx, 0),
    errors: runs[ack].reduce((sum, r) => sum + r.errors, 0),
    ingressCpuUsPerRequest: mean(runs[ack], (r) => r.serverCpuUsPerRequest),
    redisCpuUsPerRequest: mean(runs[ack], (r) => r.redisCpuUsPerRequest),
    waitsPerRequest: round(runs[ack].reduce((sum, r) => sum + r.waitsPerRequest, 0) / runs[ack].length, 3),
    poolExhausted: runs[ack].some((r) => r.poolExhausted),
  });
  const off = summary('0');
  const on = summary('1');
  const results = {
    measuredAt: new Date().toISOString(),
    settings: { connections, durationSeconds, warmupSeconds, rounds: ROUNDS, logLevel: settings.logLevel, replica: 'local, no added lag' },
    withoutReplicaAck: off,
    withReplicaAck: on,
    throughputRatio: round(on.requestsPerSec / off.requestsPerSec, 3),
    p99Ratio: round(on.p99Ms / off.p99Ms, 3),
    runs,
  };
  await mkdir(RESULTS, { recursive: true });
  await writeFile(`${RESULTS}replica-ack.json`, `${JSON.stringify(results, null, 2)}\n`);
  const row = (label: string, s: typeof off) =>
    `| ${label} | ${s.requestsPerSec.toLocaleString('en-US')} | ${s.p50Ms} | ${s.p99Ms} | ${s.non2xx} | ${s.ingressCpuUsPerRequest} | ${s.redisCpuUsPerRequest} | ${s.waitsPerRequest} |`;
  process.stdout.write(
    [
      '',
      '| REDIS_MIN_REPLICAS_ACK | req/s | p50 ms | p99 ms | non-2xx | ingress CPU µs/req | primary CPU µs/req | WAITs/req |',
      '|---|---|---|---|---|---|---|---|',
      row('0', off),
      row('1', on),
      '',
      `with the replica ack: ${results.throughputRatio}× the req/s, ${results.p99Ratio}× the p99 (same run, alternating)`,
      '',
    ].join('\n'),
  );
} finally {
  for (const p of processes) await p.stop(5_000).catch(() => {});
  killChildren();
  for (const s of servers.reverse()) await s.dispose().catch(() => {});
}
