import type { BackendsComparison } from '../phases/backends';
import type { QueueLengthResult } from '../phases/queue-length';
import type { OutboxCost } from '../phases/outbox-cost';
import { describeDrain, ms, rate, x, type Target } from './report';

/** Each queue backend's ingress and drain against pgbench's per-event rate, and Postgres against Redis. */
export function backendRows(c: BackendsComparison): Target[] {
  const baseline =
    c.pgbenchTransactionsPerSec === null ? 'pgbench skipped' : `pgbench, ${c.pgbenchClients} clients: ${rate(c.pgbenchTransactionsPerSec)}`;
  const ratio = (r: number | null) => (r === null ? '' : x(r));
  const rows = c.backends.flatMap(({ backend, ingress, drain, ingressToPgbench, drainToPgbench }): Target[] => [
    {
      figure: `QUEUE_BACKEND=${backend}: ingress acknowledgement`,
      measured: `${rate(ingress.requestsPerSec)} (p99 ${ingress.p99Ms} ms, non-2xx ${ingress.non2xx}; ingress CPU ${ingress.serverCpuUsPerRequest} µs/request)`,
      baseline,
      ratio: ratio(ingressToPgbench),
      target: 'report',
      met: null,
    },
    {
      figure: `QUEUE_BACKEND=${backend}: worker drain at concurrency ${drain.concurrency}`,
      measured: describeDrain(drain),
      baseline,
      ratio: ratio(drainToPgbench),
      target: 'report',
      met: null,
    },
  ]);
  for (const { backend, burst } of c.bursts)
    rows.push({
      figure: `QUEUE_BACKEND=${backend}: burst end to end, ${burst.queued.events.toLocaleString('en-US')} events, ${burst.queued.inFlight} in flight`,
      measured: `${rate(burst.queued.eventsPerSec)} (rounds ${burst.rounds
        .filter((r) => r.kind === 'queued')
        .map((r) => Math.round(r.eventsPerSec))
        .join(', ')}; non-2xx ${burst.queued.non2xx}, failed ${burst.queued.failed})`,
      baseline: `synchronous reference: ${rate(burst.sync.eventsPerSec)}`,
      ratio: x(burst.ratio),
      target: backend === 'postgres' ? '≥ 1.5×' : 'report',
      met: backend === 'postgres' ? burst.ratio >= 1.5 && burst.rounds.every((r) => r.non2xx === 0 && r.failed === 0) : null,
    });
  if (c.postgresToRedis)
    rows.push({
      figure: 'Postgres backend ÷ Redis backend',
      measured: `ingress ${x(c.postgresToRedis.ingress)}, drain ${x(c.postgresToRedis.drain)}`,
      baseline: 'the Redis backend in the same run',
      ratio: '',
      target: 'report',
      met: null,
    });
  return rows;
}

/** Drain rate by drain size, and before and after a large drain on one queue, per backend. */
export function queueLengthRows(results: readonly QueueLengthResult[]): Target[] {
  return results.flatMap((r): Target[] => [
    ...r.bySize.map((d): Target => ({
      figure: `QUEUE_BACKEND=${r.backend}: drain of ${d.events.toLocaleString('en-US')} (fresh queue)`,
      measured: `${rate(d.eventsPerSec)}; by fifth of the drain: ${d.fifths.map((f) => Math.round(f)).join(', ')}`,
      baseline: '',
      ratio: '',
      target: 'report',
      met: null,
    })),
    {
      figure: `QUEUE_BACKEND=${r.backend}: the same ${r.sameQueue.before.events.toLocaleString('en-US')} events after ${r.sameQueue.large.events.toLocaleString('en-US')} more completed on the queue`,
      measured: `${rate(r.sameQueue.after.eventsPerSec)} (${r.sameQueue.completedKeptAfter.toLocaleString('en-US')} completed jobs kept)`,
      baseline: `before: ${rate(r.sameQueue.before.eventsPerSec)} (${r.sameQueue.completedKeptBefore.toLocaleString('en-US')} kept)`,
      ratio: x(r.afterToBefore),
      target: 'report',
      met: null,
    },
  ]);
}

/** Issue 22 "Cost": drain with the outbox against drain without it, same worker, same run. */
export function outboxRows(c: OutboxCost): Target[] {
  const pct = (n: number) => `${(n * 100).toFixed(1)} %`;
  const withRounds = c.rounds.filter((r) => r.writeOutbox);
  const rows = withRounds[0]?.rowsPerEvent ?? 0;
  return [
    {
      figure: `drain with the outbox written (${withRounds.length} drains, median)`,
      measured: `${rate(c.withOutbox)} (${rows} outbox rows/event; worker + Postgres CPU ${ms(c.cpuMsPerEvent.withOutbox)}/event)`,
      baseline: `without (ApplyOptions.writeOutbox false): ${rate(c.withoutOutbox)} (CPU ${ms(c.cpuMsPerEvent.withoutOutbox)}/event)`,
      ratio: `${x(c.withOutbox / c.withoutOutbox)} (medians)`,
      target: 'report',
      met: null,
    },
    {
      figure: 'outbox cost: 1 − the median of the pairs’ with ÷ without',
      measured: `${pct(c.cost)} of drain throughput (pairs: ${c.pairRatios.map(x).join(', ')}); worker + Postgres CPU +${pct(c.cpuMsPerEvent.withOutbox / c.cpuMsPerEvent.withoutOutbox - 1)}`,
      baseline: `rounds: ${c.rounds.map((r) => `${r.writeOutbox ? 'with' : 'without'} ${Math.round(r.drain.eventsPerSec)}`).join(', ')}`,
      ratio: x(1 - c.cost),
      target: '≤ 15 %',
      met: c.cost <= 0.15 && c.rounds.every((r) => r.drain.failed === 0),
    },
  ];
}
