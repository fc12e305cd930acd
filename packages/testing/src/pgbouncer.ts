import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { freePort } from './ports';

export interface PrivatePgBouncer {
  port: number;
  /** `url` with its host and port replaced by the pooler's. */
  through: (url: string) => string;
  dispose: () => Promise<void>;
}

/** Why a PgBouncer cannot be started here (`undefined`: it can). */
export function pgbouncerMissing(): string | undefined {
  const found = spawnSync('pgbouncer', ['--version'], { encoding: 'utf8' });
  return found.status === 0 ? undefined : 'pgbouncer is not installed (Debian: apt-get install pgbouncer)';
}

/**
 * A PgBouncer of the test's own in transaction mode (as Supabase's and Neon's poolers run), in
 * front of `target`'s Postgres, on a free port. It refuses to run as root: when root, it is told
 * to switch to the `postgres` user.
 */
export async function startPgBouncer(target: string, options: { poolSize?: number } = {}): Promise<PrivatePgBouncer> {
  const upstream = new URL(target);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bw-pgbouncer-'));
  chmodSync(dir, 0o777);
  const user = decodeURIComponent(upstream.username || 'postgres');
  writeFileSync(join(dir, 'users.txt'), `"${user}" ""\n`);
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${upstream.hostname} port=${upstream.port || 5432}`,
      '[pgbouncer]',
      `listen_addr = 127.0.0.1`,
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
    ].join('\n'),
  );
  for (const file of ['users.txt', 'pgbouncer.ini']) chmodSync(join(dir, file), 0o644);
  const asRoot = process.getuid?.() === 0;
  const child: ChildProcess = spawn('pgbouncer', [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')], { stdio: 'ignore' });
  const through = (url: string) => {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(port);
    return u.toString();
  };
  const probe = postgres(through(target), { max: 1, connect_timeout: 1, onnotice: () => {} });
  try {
    for (let i = 0; ; i += 1) {
      try {
        await probe`select 1`;
        break;
      } catch (error) {
        if (i >= 50 || child.exitCode !== null) throw new Error(`private pgbouncer did not start on port ${port}`, { cause: error });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await probe.end({ timeout: 1 });
  }
  return {
    port,
    through,
    dispose: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
