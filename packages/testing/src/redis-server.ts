import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisAnswers } from './services';
import { freePort } from './ports';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Stops the server (SIGTERM; SIGKILL if `hard`). */
  stop: (hard?: boolean) => Promise<void>;
  /** Starts it again on the same port and directory (AOF data survives when enabled). */
  start: () => Promise<void>;
  /** Kills the server and removes its data directory. */
  dispose: () => Promise<void>;
}

/** A redis-server of the test's own on a free port, so a test can stop and restart it. */
export async function startPrivateRedis(options: { appendOnly?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bw-redis-'));
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;

  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir,
        '--appendonly', options.appendOnly ? 'yes' : 'no', '--appendfsync', 'always',
        '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i += 1) {
      if (await redisAnswers(url, 200)) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`private redis-server did not start on port ${port}`);
  };
  const stop = async (hard = false) => {
    const running = child;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(hard ? 'SIGKILL' : 'SIGTERM');
    await exited;
  };
  const dispose = async () => {
    await stop(true);
    await rm(dir, { recursive: true, force: true });
  };
  await start();
  return { port, url, stop, start, dispose };
}
