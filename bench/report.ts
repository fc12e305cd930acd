import type { AcknowledgementResult, LoadResult } from './ingress';
import type { LatencyResult } from './latency';
import type { Machine } from './machine';
import type { MemoryWindow } from './memory';
import type { RawApplyResult } from './raw-apply';
import type { DrainResult } from './worker-throughput';

export interface Comparison {
  worker: DrainResult;
  raw: RawApplyResult;
  /** worker events/s ÷ raw events/s at the same pool size. */
  ratio: number;
}

export interface MemoryRuns {
  /** Two consecutive runs in one process. */
  runs: [MemoryWindow, MemoryWindow];
  peakMiB: number;
  /** Peak of run 2 minus peak of run 1 (a leak shows as a positive number run after run). */
  growthMiB: number;
  limitMiB: number;
}

export interface BenchResults {
  measuredAt: string;
  wallSeconds: number;
  machine: Machine;
  notes: string[];
  settings: Record<string, unknown>;
  eventMix: Record<string, number>;
  acknowledgement: AcknowledgementResult;
  worker: {
    atDefaultConcurrency: Comparison;
    sweep: DrainResult[];
    best: Comparison & { concurrency: number };
    scaling: { oneWorker: DrainResult; twoWorkers: DrainResult; gain: number };
  };
  latency: LatencyResult;
  memory: { ingress: MemoryRuns; worker: MemoryRuns };
  targets: Target[];
}

export interface Target {
  figure: string;
  measured: string;
  baseline: string;
  ratio: string;
  target: string;
  /** null: reported, no target. */
  met: boolean | null;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const x = (n: number) => `${n.toFixed(2)}×`;
const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;

/** The rows printed to stdout and written to latest.md; each figure beside the baseline that bounds it. */
export function targetRows(r: Omit<BenchResults, 'targets'>): Target[] {
  const { acknowledgement: a, worker: w, latency: l, memory: m } = r;
  const conn = `${(r.settings.connections as number) ?? 50} conn`;
  const ack = (t: LoadResult) =>
    `${rate(t.requestsPerSec)}, p50 ${t.p50Ms} ms, p99 ${t.p99Ms} ms, non-2xx ${t.non2xx}, errors ${t.errors}; CPU/req: server ${t.serverCpuUsPerRequest} µs, Redis ${t.redisCpuUsPerRequest} µs`;
  const drain = (d: DrainResult) =>
    `${rate(d.eventsPerSec)} (${d.events.toLocaleString('en-US')} in ${d.seconds} s${d.retries ? `, ${d.retries} retries` : ''}${d.failed ? `, ${d.failed} FAILED` : ''}; ` +
    `CPU/event: worker ${d.workerCpuMsPerEvent} ms, Postgres ${d.postgresCpuMsPerEvent} ms)`;
  const raw = (d: RawApplyResult) =>
    `raw applyEvent, pool ${d.poolSize}: ${rate(d.eventsPerSec)} (CPU/event: loop ${d.cpuMsPerEvent} ms, Postgres ${d.postgresCpuMsPerEvent} ms)`;
  return [
    { figure: `ingress ack throughput (${conn})`, measured: ack(a.ingress), baseline: `bare verify: ${ack(a.bare)}`, ratio: x(a.throughputRatio), target: '≥ 0.75×', met: a.throughputRatio >= 0.75 && a.ingress.non2xx === 0 && !a.ingress.poolExhausted },
    {
      figure: `ingress ack throughput vs verify + one Redis write (${conn})`,
      measured: rate(a.ingress.requestsPerSec),
      baseline: `bare verify + SET NX: ${ack(a.bareRedis)}`,
      ratio: x(a.throughputRatioToRedisAck),
      target: 'report',
      met: null,
    },
    {
      figure: 'ingress CPU per request (server + Redis)',
      measured: `${round1(a.ingress.serverCpuUsPerRequest + a.ingress.redisCpuUsPerRequest)} µs`,
      baseline: `${round1(a.bare.serverCpuUsPerRequest + a.bare.redisCpuUsPerRequest)} µs (bare)`,
      ratio: x((a.ingress.serverCpuUsPerRequest + a.ingress.redisCpuUsPerRequest) / (a.bare.serverCpuUsPerRequest + a.bare.redisCpuUsPerRequest)),
      target: 'report',
      met: null,
    },
    { figure: 'ingress ack p99', measured: `${a.ingress.p99Ms} ms`, baseline: `${a.bare.p99Ms} ms (bare)`, ratio: x(a.p99Ratio), target: '≤ 2×', met: a.p99Ratio <= 2 },
    { figure: `worker drain, concurrency ${w.atDefaultConcurrency.worker.concurrency}`, measured: drain(w.atDefaultConcurrency.worker), baseline: raw(w.atDefaultConcurrency.raw), ratio: x(w.atDefaultConcurrency.ratio), target: '≥ 0.8×', met: w.atDefaultConcurrency.ratio >= 0.8 && w.atDefaultConcurrency.worker.failed === 0 },
    ...w.sweep.map((d) => ({ figure: `  sweep: concurrency ${d.concurrency}`, measured: drain(d), baseline: '', ratio: '', target: '', met: null })),
    { figure: `worker drain, best concurrency (${w.best.concurrency})`, measured: drain(w.best.worker), baseline: raw(w.best.raw), ratio: x(w.best.ratio), target: '≥ 0.8×', met: w.best.ratio >= 0.8 && w.best.worker.failed === 0 },
    { figure: `scaling: 2 workers × ${w.scaling.twoWorkers.concurrency}`, measured: drain(w.scaling.twoWorkers), baseline: `1 worker: ${drain(w.scaling.oneWorker)}`, ratio: x(w.scaling.gain), target: 'report', met: null },
    { figure: `end-to-end latency at ${rate(l.offeredPerSec)} offered`, measured: `p50 ${l.endToEnd.p50Ms} ms, p99 ${l.endToEnd.p99Ms} ms (ack p50 ${l.acknowledgement.p50Ms} ms, p99 ${l.acknowledgement.p99Ms} ms; ${l.sent} sent, non-2xx ${l.non2xx})`, baseline: `½ of ${rate(w.atDefaultConcurrency.worker.eventsPerSec)} capacity`, ratio: '', target: 'report', met: null },
    memoryRow('ingress peak RSS', m.ingress),
    growthRow('ingress RSS growth, run 1 → run 2', m.ingress),
    memoryRow('worker peak RSS', m.worker),
    growthRow('worker RSS growth, run 1 → run 2', m.worker),
  ];
}

function memoryRow(figure: string, m: MemoryRuns): Target {
  return { figure, measured: `${m.peakMiB} MiB`, baseline: '', ratio: '', target: `< ${m.limitMiB} MiB`, met: m.peakMiB < m.limitMiB };
}

/** "No growth": run 2's peak within max(5 %, 8 MiB) of run 1's. */
function growthRow(figure: string, m: MemoryRuns): Target {
  const [one, two] = m.runs;
  const allowed = Math.max(one.peakRssMiB * 0.05, 8);
  return {
    figure,
    measured: `${m.growthMiB >= 0 ? '+' : ''}${m.growthMiB} MiB (peak ${one.peakRssMiB} → ${two.peakRssMiB}, end ${one.endRssMiB} → ${two.endRssMiB})`,
    baseline: '',
    ratio: '',
    target: `≤ +${allowed.toFixed(0)} MiB`,
    met: m.growthMiB <= allowed,
  };
}

const verdict = (met: boolean | null) => (met === null ? '' : met ? 'met' : 'MISSED');

export function textTable(rows: readonly Target[]): string {
  const header = ['figure', 'measured', 'baseline (same run)', 'ratio', 'target', ''];
  const cells = [header, ...rows.map((r) => [r.figure, r.measured, r.baseline, r.ratio, r.target, verdict(r.met)])];
  const widths = header.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function markdown(r: BenchResults): string {
  const m = r.machine;
  const rows = r.targets.map((t) => `| ${[t.figure.trim(), t.measured, t.baseline, t.ratio, t.target, verdict(t.met)].map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`);
  return [
    '# Benchmark results (`npm run bench`)',
    '',
    `Measured ${r.measuredAt} in ${r.wallSeconds} s on ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, PostgreSQL ${m.postgres}, Redis ${m.redis}. ` +
      `1-minute load average ${m.loadAverage.start} at start, ${m.loadAverage.end ?? '?'} at end (the machine is shared: compare ratios, not absolute figures).`,
    '',
    '| figure | measured | baseline (same run) | ratio | target | |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Event mix (${Object.values(r.eventMix).reduce((a, b) => a + b, 0).toLocaleString('en-US')} events over ${r.settings.subscriptions} subscriptions): ` +
      Object.entries(r.eventMix).map(([type, n]) => `${type} ${n}`).join(', ') + '.',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
