import { readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ, 100 on Linux x86-64). */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; undefined once
 * it has exited. CPU per request is the figure that survives a noisy shared machine: it does not
 * depend on how much of the CPU other processes took meanwhile.
 */
export function cpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/**
 * CPU ms used by these processes since the call; call the returned function to read it. A process
 * that exited meanwhile (a pooled Postgres connection closed when idle) counts nothing, so the
 * figure is a lower bound then, never negative.
 */
export function cpuMeter(pids: readonly number[]): () => number {
  const start = pids.map((pid) => cpuMs(pid));
  return () =>
    pids.reduce((sum, pid, i) => {
      const [from, to] = [start[i], cpuMs(pid)];
      return from === undefined || to === undefined ? sum : sum + Math.max(0, to - from);
    }, 0);
}
