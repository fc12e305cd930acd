import autocannon from 'autocannon';
import type { StripeEvent } from '@billing/stripe-simulator/events';
import { freePort } from '@billing/testing/ports';
import { startIngress } from '../harness/app-processes';
import { startProcess, type BenchProcess } from '../harness/child-process';
import { localRedisPid } from '../harness/machine';
import { round } from '../report/round';
import { sampleMemory, type MemoryWindow } from '../harness/memory';
import { cpuMeter } from '../harness/process-cpu';
import { settings, WEBHOOK_PATH, WEBHOOK_SECRET } from '../settings';
import { signRequests, type SignedRequests } from '../harness/signed-requests';
import { openBenchQueue } from '../harness/worker-queue';
import type { BenchBackend } from '../harness/queue-backend';
import type { Target } from '../report/report';

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses that were not 2xx. */
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  requests: number;
  durationSeconds: number;
  /** CPU time of the server process per request (µs): robust to the machine's noise. */
  serverCpuUsPerRequest: number;
  /** CPU time of the (local) Redis server per request (µs); shared with anything else using it. */
  redisCpuUsPerRequest: number;
  /** True when the pre-signed pool ran out and ids repeated (the figure is then not valid). */
  poolExhausted: boolean;
}

export interface AcknowledgementResult {
  bare: LoadResult;
  /** The bare endpoint plus one `SET NX` to Redis before answering: the floor of any Redis-acked ingress. */
  bareRedis: LoadResult;
  /** Two consecutive runs against one ingress process (memory is compared across them). */
  ingressRuns: [LoadResult, LoadResult];
  ingress: LoadResult;
  throughputRatio: number;
  p99Ratio: number;
  /** Ingress req/s ÷ bare-plus-Redis req/s. */
  throughputRatioToRedisAck: number;
  /** Ingress CPU per request ÷ bare CPU per request. */
  cpuPerRequestRatio: number;
  ingressMemory: [MemoryWindow, MemoryWindow];
}

/**
 * Fires pre-signed, unique deliveries at `url` with autocannon (in this process; the server is
 * a child process) for `durationSeconds`, `connections` at a time, one request per connection
 * in flight (Stripe does not pipeline).
 */
export async function fireSignedLoad(
  url: string,
  pool: SignedRequests,
  durationSeconds: number,
  connections: number,
  serverPid?: number,
  redisPid?: number,
): Promise<LoadResult> {
  const cpu = cpuMeter(serverPid === undefined ? [] : [serverPid]);
  const redisCpu = cpuMeter(redisPid === undefined ? [] : [redisPid]);
  let next = 0;
  let exhausted = false;
  const result = await autocannon({
    url: `${url}${WEBHOOK_PATH}`,
    connections,
    duration: durationSeconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          if (next >= pool.bodies.length) {
            exhausted = true;
            next = 0;
          }
          const i = next++;
          return {
            ...request,
            body: pool.bodies[i],
            headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': pool.signatures[i] as string },
          };
        },
      },
    ],
  });
  const serverCpuMs = cpu();
  const redisCpuMs = redisCpu();
  return {
    requestsPerSec: round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    requests: result.requests.total,
    durationSeconds: result.duration,
    serverCpuUsPerRequest: round((serverCpuMs * 1000) / Math.max(1, result.requests.total)),
    redisCpuUsPerRequest: round((redisCpuMs * 1000) / Math.max(1, result.requests.total)),
    poolExhausted: exhausted,
  };
}

/** Enough deliveries for `seconds` at a rate no server here reaches. */
function poolFor(templates: readonly StripeEvent[], seconds: number): SignedRequests {
  return signRequests(templates, seconds * settings.ingress.maxRate, WEBHOOK_SECRET);
}

async function warmAndMeasure(
  url: string,
  serverPid: number,
  templates: readonly StripeEvent[],
  runs: number,
  onRun?: () => void,
): Promise<LoadResult[]> {
  const redisPid = await localRedisPid(settings.redisUrl);
  const { connections, durationSeconds, warmupSeconds } = settings.ingress;
  await fireSignedLoad(url, poolFor(templates, warmupSeconds), warmupSeconds, connections);
  const results: LoadResult[] = [];
  for (let run = 0; run < runs; run += 1) {
    // Signed just before each run: fresh ids, timestamps well inside the 300 s tolerance.
    const pool = poolFor(templates, durationSeconds);
    results.push(await fireSignedLoad(url, pool, durationSeconds, connections, serverPid, redisPid));
    onRun?.();
  }
  return results;
}

/**
 * Issue item 1: the bare verify-and-200 endpoint (upper bound), then the real ingress twice in a
 * row (same process), each after a short warm-up, with the same connections and duration.
 */
export async function benchAcknowledgement(
  templates: readonly StripeEvent[],
  queueName: string,
  log: (line: string) => void,
): Promise<AcknowledgementResult> {
  const processes: BenchProcess[] = [];
  const queue = openBenchQueue(queueName); // only to remove what the ingress enqueued, at the end
  try {
    const measureBare = async (name: string, env: Record<string, string>): Promise<LoadResult> => {
      const port = await freePort();
      const bare = await startProcess(
        name,
        'bench/servers/bare-verify-server.ts',
        { PORT: String(port), STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, ...env },
        /bare listening/,
      );
      processes.push(bare);
      log(`  ${name} server: warm-up ${settings.ingress.warmupSeconds} s, run ${settings.ingress.durationSeconds} s`);
      const [result] = (await warmAndMeasure(`http://127.0.0.1:${port}`, bare.pid, templates, 1)) as [LoadResult];
      await bare.stop();
      return result;
    };
    const bareResult = await measureBare('bare-verify', {});
    const bareRedisResult = await measureBare('bare-verify-redis', { BARE_REDIS_URL: settings.redisUrl });

    const { process: ingress, port: ingressPort } = await startIngress(queueName);
    processes.push(ingress);
    const memory = sampleMemory(ingress.pid);
    memory.window(); // start-up is not part of either run
    const windows: MemoryWindow[] = [];
    log(`  ingress: warm-up ${settings.ingress.warmupSeconds} s, two runs of ${settings.ingress.durationSeconds} s`);
    const runs = (await warmAndMeasure(`http://127.0.0.1:${ingressPort}`, ingress.pid, templates, 2, () =>
      windows.push(memory.window()),
    )) as [LoadResult, LoadResult];
    memory.stop();
    await ingress.stop();

    const ingressMean = meanOf(runs);
    return {
      bare: bareResult,
      bareRedis: bareRedisResult,
      ingressRuns: runs,
      ingress: ingressMean,
      throughputRatio: round(ingressMean.requestsPerSec / bareResult.requestsPerSec, 3),
      p99Ratio: round(ingressMean.p99Ms / bareResult.p99Ms, 3),
      throughputRatioToRedisAck: round(ingressMean.requestsPerSec / bareRedisResult.requestsPerSec, 3),
      cpuPerRequestRatio: round(ingressMean.serverCpuUsPerRequest / bareResult.serverCpuUsPerRequest, 3),
      ingressMemory: windows as [MemoryWindow, MemoryWindow],
    };
  } finally {
    for (const p of processes) await p.stop(5_000);
    await queue.drop();
  }
}

/** The real ingress on `backend`: a warm-up, then one measured run; what it enqueued is dropped after. */
export async function ingressOnBackend(
  templates: readonly StripeEvent[],
  queueName: string,
  backend: BenchBackend,
  log: (line: string) => void,
): Promise<LoadResult> {
  const queue = openBenchQueue(queueName, backend); // only to remove what the ingress enqueued, at the end
  const { process: ingress, port } = await startIngress(queueName, {}, backend);
  try {
    log(`  ingress on ${backend.name}: warm-up ${settings.ingress.warmupSeconds} s, run ${settings.ingress.durationSeconds} s`);
    const [result] = (await warmAndMeasure(`http://127.0.0.1:${port}`, ingress.pid, templates, 1)) as [LoadResult];
    return result;
  } finally {
    await ingress.stop(5_000);
    await queue.drop();
  }
}

function meanOf(results: readonly LoadResult[]): LoadResult {
  const mean = (pick: (r: LoadResult) => number) => round(results.reduce((sum, r) => sum + pick(r), 0) / results.length);
  return {
    requestsPerSec: mean((r) => r.requestsPerSec),
    p50Ms: mean((r) => r.p50Ms),
    p99Ms: mean((r) => r.p99Ms),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    durationSeconds: results.reduce((sum, r) => sum + r.durationSeconds, 0),
    serverCpuUsPerRequest: mean((r) => r.serverCpuUsPerRequest),
    redisCpuUsPerRequest: mean((r) => r.redisCpuUsPerRequest),
    poolExhausted: results.some((r) => r.poolExhausted),
  };
}

/** Issue 12's ingress targets: the rows of the full report, and all of `--only ingress`. */
export function ingressRows(a: AcknowledgementResult): Target[] {
  const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
  const x = (n: number) => `${n.toFixed(2)}×`;
  const conn = `${settings.ingress.connections} connections`;
  const load = (t: LoadResult) =>
    `${rate(t.requestsPerSec)}, p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms, non-2xx ${t.non2xx}, errors ${t.errors}; CPU/req: server ${t.serverCpuUsPerRequest} µs, Redis ${t.redisCpuUsPerRequest} µs`;
  const valid = a.ingress.non2xx === 0 && a.ingress.errors === 0 && !a.ingress.poolExhausted;
  const peak = Math.max(...a.ingressMemory.map((w) => w.peakRssMiB));
  const cpu = (t: LoadResult) => t.serverCpuUsPerRequest + t.redisCpuUsPerRequest;
  return [
    {
      figure: `ingress acknowledgement vs verify + SET NX (${conn}, req/s)`,
      measured: load(a.ingress),
      baseline: `verify + SET NX: ${load(a.bareRedis)}`,
      ratio: x(a.throughputRatioToRedisAck),
      target: '≥ 0.8×',
      met: valid && a.throughputRatioToRedisAck >= 0.8,
    },
    {
      figure: 'ingress p99 vs bare verify',
      measured: `${a.ingress.p99Ms} ms`,
      baseline: `bare verify: ${load(a.bare)}`,
      ratio: x(a.p99Ratio),
      target: '≤ 2×',
      met: a.p99Ratio <= 2,
    },
    {
      figure: '  ingress req/s vs bare verify',
      measured: rate(a.ingress.requestsPerSec),
      baseline: rate(a.bare.requestsPerSec),
      ratio: x(a.throughputRatio),
      target: 'report',
      met: null,
    },
    {
      figure: '  ingress CPU per request (server + Redis)',
      measured: `${Math.round(cpu(a.ingress))} µs`,
      baseline: `verify + SET NX: ${Math.round(cpu(a.bareRedis))} µs`,
      ratio: x(cpu(a.ingress) / cpu(a.bareRedis)),
      target: 'report',
      met: null,
    },
    {
      figure: 'ingress peak RSS (two runs)',
      measured: `${peak} MiB (${a.ingressMemory.map((w) => w.peakRssMiB).join(' → ')})`,
      baseline: '',
      ratio: '',
      target: '< 200 MiB',
      met: peak < 200,
    },
  ];
}
