import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_QUEUE_SIGNING_KEY } from './job-signing';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type AppName = 'ingress' | 'worker' | 'dashboard';

export interface AppProcess {
  name: AppName;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the first output line matching `pattern`. */
  waitForOutput: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * Runs an app's `src/server.ts` as a real child process (node + tsx, no npm in between, so
 * signals reach it directly) and waits until its output matches `ready`.
 */
export async function startApp(
  name: AppName,
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 30_000,
): Promise<AppProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', `apps/${name}/src/server.ts`], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', QUEUE_SIGNING_KEY: TEST_QUEUE_SIGNING_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    text += chunk.toString();
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
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

  const app: AppProcess = { name, child, output: () => text, waitForOutput, stop, exited };
  try {
    await waitForOutput(ready, timeoutMs);
  } catch (error) {
    await stop('SIGKILL');
    throw error;
  }
  return app;
}
