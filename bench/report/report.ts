import type { BurstComparison, BurstResult } from '../phases/burst';
import { ingressRows, type AcknowledgementResult } from '../phases/ingress';
import type { LatencyResult } from '../phases/latency';
import type { Machine } from '../harness/machine';
import type { MemoryWindow } from '../harness/memory';
import type { PgbenchResult, PgbenchRun } from '../phases/pgbench';
import type { DrainResult } from '../phases/worker-throughput';
import type { BackendsComparison } from '../phases/backends';
import type { OutboxCost } from '../phases/outbox-cost';

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
  pgbench: PgbenchResult;
  burst: BurstComparison;
  acknowledgement: AcknowledgementResult;
  worker: {
    /** At pgbench's (first) client count: the same concurrency. */
    atPgbenchConcurrency: DrainResult;
    /** At WORKER_CONCURRENCY's default, 20,000 events. */
    atDefaultConcurrency: DrainResult;
    /** Every single-worker drain, by concurrency (the default's entry is its second, smaller drain). */
    sweep: DrainResult[];
    scaling: { oneWorker: DrainResult; twoWorkers: DrainResult; gain: number };
  };
  latency: LatencyResult;
  memory: { ingress: MemoryRuns; worker: MemoryRuns };
  /** Both queue backends side by side, against pgbench. */
  backends: BackendsComparison;
  /** Drain with and without the outbox written. */
  outbox: OutboxCost;
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

/** The old per-event CPU (worker + Postgres + Redis, issue 12) and the target's share of it. */
export const OLD_CPU_MS_PER_EVENT = 3;
const CPU_TARGET_MS = OLD_CPU_MS_PER_EVENT / 3;

export const x = (n: number) => `${n.toFixed(2)}×`;
export const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
export const ms = (n: number) => `${n.toFixed(3)} ms`;

export const drainCpu = (d: DrainResult) => d.workerCpuMsPerEvent + d.postgresCpuMsPerEvent + d.redisCpuMsPerEvent;

export function describeDrain(d: DrainResult): string {
  return (
    `${rate(d.eventsPerSec)} (${d.events.toLocaleString('en-US')} in ${d.seconds} s, ${d.meanBatchSize} events/transaction` +
    `${d.retries ? `, ${d.retries} retries` : ''}, failed ${d.failed}${d.logProblems ? `, ${d.logProblems} warn/error log lines` : ''}; CPU/event: worker ${d.workerCpuMsPerEvent}, Postgres ${d.postgresCpuMsPerEvent}, Redis ${d.redisCpuMsPerEvent} ms)`
  );
}

function describeBurst(b: BurstResult): string {
  const c = b.cpuMsPerEvent;
  const cpu =
    b.kind === 'sync'
      ? `server ${c.server}, Postgres ${c.postgres}`
      : `ingress ${c.server}, worker ${c.worker}, Postgres ${c.postgres}, Redis ${c.redis}`;
  return (
    `${rate(b.eventsPerSec)} (${b.events.toLocaleString('en-US')} applied in ${b.appliedSeconds} s, answered in ${b.acknowledgedSeconds} s, ack p99 ${b.ack.p99Ms} ms, non-2xx ${b.non2xx}` +
    `${b.kind === 'queued' ? `, ${b.meanBatchSize} events/transaction, failed ${b.failed}` : ''}${b.logProblems ? `, ${b.logProblems} warn/error log lines` : ''}; CPU/event: ${cpu} ms)`
  );
}

const describePgbench = (p: PgbenchRun) =>
  `pgbench, ${p.clients} clients: ${rate(p.transactionsPerSec)} (latency ${p.latencyMs} ms, failed ${p.failed}; Postgres CPU ≈ ${p.postgresCpuMsPerTransaction} ms/transaction)`;

/** pgbench's rows: the baseline (first client count) and the others, or the note that it was skipped. */
export function pgbenchRows(p: PgbenchResult): Target[] {
  if ('skipped' in p)
    return [
      {
        figure: "pgbench: docs/design.md's per-event transaction",
        measured: `skipped: ${p.skipped}`,
        baseline: '',
        ratio: '',
        target: 'baseline',
        met: null,
      },
    ];
  const row = (run: PgbenchRun, target: string): Target => ({
    figure: `pgbench: docs/design.md's per-event transaction, -M ${run.protocol}, ${run.clients} clients`,
    measured: `${Math.round(run.transactionsPerSec).toLocaleString('en-US')} transactions/s (${run.transactions.toLocaleString('en-US')} in ${run.seconds} s, latency ${run.latencyMs} ms, failed ${run.failed}; Postgres CPU ≈ ${run.postgresCpuMsPerTransaction} ms/transaction)`,
    baseline: '',
    ratio: '',
    target,
    met: null,
  });
  const prepared = p.runs[0];
  const simple = {
    ...row(p.simple, 'report'),
    ...(prepared && {
      baseline: `-M prepared: ${describePgbench(prepared)}`,
      ratio: x(p.simple.transactionsPerSec / prepared.transactionsPerSec),
    }),
  };
  return [...p.runs.map((run, i) => row(run, i === 0 ? 'baseline' : 'report')), simple];
}

/** The synchronous reference and the burst through ingress + worker, against it. */
export function burstRows(burst: BurstComparison, syncConnections: number): Target[] {
  const rounds = (kind: BurstResult['kind']) =>
    burst.rounds
      .filter((r) => r.kind === kind)
      .map((r) => Math.round(r.eventsPerSec).toLocaleString('en-US'))
      .join(', ');
  const median = `median of ${burst.rounds.length / 2} rounds`;
  return [
    {
      figure: `synchronous reference: verify + applyEvent in the request, ${syncConnections} connections, ${burst.sync.inFlight} in flight`,
      measured: `${describeBurst(burst.sync)}; ${median}: ${rounds('sync')}/s`,
      baseline: '',
      ratio: '',
      target: 'baseline',
      met: null,
    },
    {
      figure: `burst end to end: ${burst.queued.events.toLocaleString('en-US')} signed events, ${burst.queued.inFlight} in flight, ingress + worker`,
      measured: `${describeBurst(burst.queued)}; ${median}: ${rounds('queued')}/s`,
      baseline: `synchronous reference: ${rate(burst.sync.eventsPerSec)}`,
      ratio: x(burst.ratio),
      target: '≥ 3×',
      met: burst.ratio >= 3 && burst.rounds.every((r) => r.non2xx === 0 && r.failed === 0 && r.logProblems === 0),
    },
  ];
}

/** Worker drains against pgbench (at its client count and at the worker's default), the sweep, and CPU per event. */
export function drainRows(
  pgbench: PgbenchResult,
  w: Pick<BenchResults['worker'], 'atPgbenchConcurrency' | 'atDefaultConcurrency' | 'sweep'>,
): Target[] {
  const pg = 'runs' in pgbench ? pgbench.runs[0] : undefined;
  const skipped = 'skipped' in pgbench ? `pgbench skipped: ${pgbench.skipped}` : '';
  const versusPgbench = (figure: string, d: DrainResult, baselineNote: string): Target => {
    const ratio = pg ? d.eventsPerSec / pg.transactionsPerSec : NaN;
    return {
      figure,
      measured: describeDrain(d),
      baseline: pg ? `${describePgbench(pg)}${baselineNote}` : skipped,
      ratio: pg ? x(ratio) : '',
      target: '≥ 1.0×',
      met: pg ? ratio >= 1 && d.failed === 0 && d.logProblems === 0 : null,
    };
  };
  const at = w.atDefaultConcurrency;
  const low = w.atPgbenchConcurrency;
  return [
    versusPgbench(`worker drain at concurrency ${low.concurrency} (= pgbench's clients: the same concurrency)`, low, ''),
    // The same drain against pgbench's other client counts: as many connections as the worker's transactions in flight (2), say.
    ...('runs' in pgbench ? pgbench.runs.slice(1) : []).map((other): Target => ({
      figure: `  the same against pgbench at ${other.clients} clients`,
      measured: rate(low.eventsPerSec),
      baseline: describePgbench(other),
      ratio: x(low.eventsPerSec / other.transactionsPerSec),
      target: 'report',
      met: null,
    })),
    versusPgbench(
      `worker drain at concurrency ${at.concurrency} (WORKER_CONCURRENCY's default)`,
      at,
      'runs' in pgbench
        ? `; pgbench at ${at.concurrency} clients is not run: the server allows ${pgbench.maxConnections} connections in all (max_connections), shared with this machine's other users`
        : '',
    ),
    ...w.sweep
      .filter((d) => d.concurrency !== low.concurrency)
      .map((d): Target => ({
        figure: `  concurrency ${d.concurrency}${d.concurrency === at.concurrency ? ' (a second, smaller drain)' : ''}`,
        measured: describeDrain(d),
        baseline: '',
        ratio: '',
        target: 'report',
        met: null,
      })),
    {
      figure: `CPU per event, worker + Postgres + Redis, drain at concurrency ${at.concurrency}`,
      measured: ms(drainCpu(at)),
      baseline: `≈ ${OLD_CPU_MS_PER_EVENT} ms before issue 12`,
      ratio: x(drainCpu(at) / OLD_CPU_MS_PER_EVENT),
      target: `≤ ${CPU_TARGET_MS} ms (⅓)`,
      met: drainCpu(at) <= CPU_TARGET_MS,
    },
    {
      figure: `  the same at concurrency ${low.concurrency}`,
      measured: ms(drainCpu(low)),
      baseline: pg ? `pgbench: Postgres alone ≈ ${ms(pg.postgresCpuMsPerTransaction)} per transaction` : '',
      ratio: '',
      target: 'report',
      met: null,
    },
  ];
}

/** The rows printed to stdout and written to latest.md; each figure beside the baseline that bounds it. */
export function targetRows(r: Omit<BenchResults, 'targets'>): Target[] {
  const { worker: w, burst, latency: l, memory: m } = r;
  const q = burst.queued.cpuMsPerEvent;
  return [
    ...pgbenchRows(r.pgbench),
    ...burstRows(burst, r.settings.syncConnections as number),
    ...drainRows(r.pgbench, w),
    {
      figure: '  the same in the burst, plus the ingress',
      measured: `${ms(q.worker + q.postgres + q.redis)} + ingress ${ms(q.server)}`,
      baseline: `synchronous reference: ${ms(burst.sync.cpuMsPerEvent.server + burst.sync.cpuMsPerEvent.postgres)} (server + Postgres)`,
      ratio: '',
      target: 'report',
      met: null,
    },
    ...ingressRows(r.acknowledgement).filter((row) => !row.figure.includes('RSS')),
    {
      figure: `scaling: 2 workers × ${w.scaling.twoWorkers.concurrency}`,
      measured: describeDrain(w.scaling.twoWorkers),
      baseline: `1 worker: ${describeDrain(w.scaling.oneWorker)}`,
      ratio: x(w.scaling.gain),
      target: 'report',
      met: null,
    },
    {
      figure: `end-to-end latency at ${rate(l.offeredPerSec)} offered`,
      measured: `p50 ${l.endToEnd.p50Ms} ms, p99 ${l.endToEnd.p99Ms} ms (ack p50 ${l.acknowledgement.p50Ms} ms, p99 ${l.acknowledgement.p99Ms} ms; ${l.sent} sent, non-2xx ${l.non2xx})`,
      baseline: `½ of the burst's ${rate(burst.queued.eventsPerSec)}`,
      ratio: '',
      target: 'report',
      met: null,
    },
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
