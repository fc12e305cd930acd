import type { BackendsComparison } from '../phases/backends';
import { describeDrain, rate, x, type Target } from './report';

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
