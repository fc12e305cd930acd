import type { ChildProcess } from 'node:child_process';
import { APP_NODE_FLAGS } from '@billing/runtime/node-flags';
import { startNodeProcess } from '@billing/testing/processes';

/** A process under test: the ingress, a worker, or the bare verification server. */
export interface BenchProcess {
  name: string;
  pid: number;
  /** The output line that matched `ready`. */
  readyLine: string;
  /** The last few KiB of its output (stdout and stderr), for error messages. */
  tail: () => string;
  /** Log lines at warn level or above (pino levels 40–60) written so far: failures, retries, alerts. */
  logProblems: () => number;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once it has exited. */
  stop: (timeoutMs?: number) => Promise<void>;
}

export interface StartOptions {
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  timeoutMs?: number;
}

const TAIL_BYTES = 16 * 1024;
const children = new Set<ChildProcess>();

/** Kills every child still running; safe to call more than once (used on failure and at exit). */
export function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
}
process.on('exit', killChildren);

/** Puts a child under the always-kill rule (the apps, and children started elsewhere such as pgbench). */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * `startNodeProcess` keeping only a tail of the output (the apps log one line per event at
 * `info`, as in production), so the bench's own memory and CPU stay flat however long the run.
 */
export async function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  options: StartOptions = {},
): Promise<BenchProcess> {
  // Every process runs with the apps' own Node flags (what production runs), then any of the phase's.
  const nodeArgs = [...APP_NODE_FLAGS, ...(options.nodeArgs ?? [])];
  const started = await startNodeProcess(name, script, env, ready, { ...options, nodeArgs, keepBytes: TAIL_BYTES });
  trackChild(started.child);
  let problems = 0;
  const count = (chunk: Buffer) => (problems += chunk.toString().match(/"level":(?:40|50|60)\b/g)?.length ?? 0);
  started.child.stdout?.on('data', count);
  started.child.stderr?.on('data', count);
  return {
    name,
    pid: started.pid,
    readyLine: started.readyLine,
    tail: started.output,
    logProblems: () => problems,
    stop: async (timeoutMs = 20_000) => void (await started.stop('SIGTERM', timeoutMs)),
  };
}
