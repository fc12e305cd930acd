import { spawn, type ChildProcess } from 'node:child_process';
import { REPO_ROOT } from '@billing/testing/processes';
import { TEST_QUEUE_SIGNING_KEY } from '@billing/testing/job-signing';

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

/** Puts a child started elsewhere (e.g. pgbench) under the same always-kill rule. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/**
 * Runs `script` (relative to the repo root) with node + tsx, as `startApp` does, and waits for
 * an output line matching `ready`. Output is drained continuously (the apps log one line per
 * event at `info`, as in production) but only a tail is kept, so the bench's own memory and
 * CPU stay flat however long the run.
 */
export async function startProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  options: StartOptions = {},
): Promise<BenchProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script], {
    cwd: REPO_ROOT,
    // The queue key the bench signs its jobs with, as the ingress would (`signedJob`).
    env: { PATH: process.env.PATH ?? '', QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => children.delete(child));

  let tail = '';
  let problems = 0;
  let isReady = false;
  let readyLine = '';
  let partial = '';
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    tail = (tail + text).slice(-TAIL_BYTES);
    problems += text.match(/"level":(?:40|50|60)\b/g)?.length ?? 0;
    if (isReady) return;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    const line = lines.find((l) => ready.test(l));
    if (line !== undefined) {
      isReady = true;
      readyLine = line;
      wake?.();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  const stop = async (timeoutMs = 20_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  const limit = options.timeoutMs ?? 30_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: not ready within ${limit} ms. Output:\n${tail}`)), limit);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${child.exitCode}) before it was ready. Output:\n${tail}`));
      });
      if (isReady) wake();
    });
  } catch (error) {
    await stop(1_000);
    throw error;
  }
  if (child.pid === undefined) throw new Error(`${name}: no pid`);
  return { name, pid: child.pid, readyLine, tail: () => tail, logProblems: () => problems, stop };
}
