import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { TEST_QUEUE_SIGNING_KEY } from './job-signing';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type AppName = 'ingress' | 'worker' | 'dashboard';

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The output line that matched `ready`. */
  readyLine: string;
  /** What the process wrote to stdout and stderr so far (only the last `keepBytes` when set). */
  output: () => string;
  /** Resolves with the first output line matching `pattern`. */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  /** Sends `signal`, then SIGKILL after `timeoutMs`; resolves with the exit code (null when killed by a signal). */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>;
  exited: Promise<number | null>;
}

export interface NodeProcessOptions {
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** How long to wait for `ready` (default 30 s). */
  timeoutMs?: number;
  /** Keep only this many bytes of output (long runs that log a line per event). */
  keepBytes?: number;
  /** Arguments after the script (an operator script's flags). */
  args?: string[];
}

/** Only what is given: PATH, the test queue key, then `env`; a name given as `undefined` is left out. */
function childEnv(env: Record<string, string | undefined>): Record<string, string> {
  const entries = Object.entries({ PATH: process.env.PATH ?? '', QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY, ...env });
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/**
 * Runs `script` (relative to the repo root) as a real child process (node + tsx, no npm in
 * between, so signals reach it directly) and waits until a line of its output matches `ready`.
 */
export async function startNodeProcess(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  options: NodeProcessOptions = {},
): Promise<NodeProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script, ...(options.args ?? [])], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  function onData(chunk: Buffer) {
    text = options.keepBytes === undefined ? text + chunk.toString() : (text + chunk.toString()).slice(-options.keepBytes);
    for (const wake of waiters) wake();
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForOutput = (pattern: RegExp, limit = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = text.split('\n').find((l) => pattern.test(l));
        if (line !== undefined) {
          cleanup();
          resolve(line);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${name}: no output matching ${pattern} within ${limit} ms. Output:\n${text.slice(-4000)}`));
      }, limit);
      const onExit = () => {
        cleanup();
        reject(new Error(`${name} exited (code ${child.exitCode}) before printing ${pattern}. Output:\n${text.slice(-4000)}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
        child.off('exit', onExit);
      };
      waiters.add(check);
      child.once('exit', onExit);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', limit = 30_000) => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), limit);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  let readyLine: string;
  try {
    readyLine = await waitForOutput(ready, options.timeoutMs ?? 30_000);
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  return { name, child, pid: child.pid as number, readyLine, output: () => text, waitForOutput, stop, exited };
}

export interface AppProcess extends NodeProcess {
  name: AppName;
}

/** An app's `src/server.ts`, logging at `info`, once its output matches `ready`. */
export async function startApp(name: AppName, env: Record<string, string>, ready: RegExp, timeoutMs = 30_000): Promise<AppProcess> {
  const started = await startNodeProcess(name, `apps/${name}/src/server.ts`, { LOG_LEVEL: 'info', ...env }, ready, { timeoutMs });
  return { ...started, name };
}

export interface ScriptRun {
  status: number | undefined;
  stdout: string;
  stderr: string;
}

/** Runs a root script to its end as `npm run <x>` would (node + tsx), without blocking this process. */
export async function runScript(
  script: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<ScriptRun> {
  const { exitCode, stdout, stderr } = await execa(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    extendEnv: false,
    reject: false,
    timeout: timeoutMs,
  });
  return { status: exitCode, stdout, stderr };
}
