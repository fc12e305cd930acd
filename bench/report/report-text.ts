import type { BenchResults, Target } from './report';

/** The bench's results as text: the table on stdout, and bench/results/latest.md. */

const verdict = (met: boolean | null) => (met === null ? '' : met ? 'met' : 'MISSED');

export function textTable(rows: readonly Target[]): string {
  const header = ['figure', 'measured', 'baseline (same run)', 'ratio', 'target', ''];
  const cells = [header, ...rows.map((r) => [r.figure, r.measured, r.baseline, r.ratio, r.target, verdict(r.met)])];
  const widths = header.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

export function markdown(r: BenchResults): string {
  const m = r.machine;
  const rows = r.targets.map(
    (t) =>
      `| ${[t.figure.trim(), t.measured, t.baseline, t.ratio, t.target, verdict(t.met)].map((v) => v.replace(/\|/g, '\\|')).join(' | ')} |`,
  );
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
    `Event mix of the headline drain (${Object.values(r.eventMix)
      .reduce((a, b) => a + b, 0)
      .toLocaleString('en-US')} events over ${r.settings.subscriptions} subscriptions): ` +
      Object.entries(r.eventMix)
        .map(([type, n]) => `${type} ${n}`)
        .join(', ') +
      '.',
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}
