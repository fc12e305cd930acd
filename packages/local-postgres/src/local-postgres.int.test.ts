import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LocalPostgresError, processAlive, startLocalPostgres, waitForExit, type LocalPostgres } from './index';

const OWNER = fileURLToPath(new URL('../test-support/owner.ts', import.meta.url));
const PASSWORD = 'a password/with: odd characters';
const isRoot = process.getuid?.() === 0;

const homes: string[] = [];
const running: LocalPostgres[] = [];
const children: ChildProcess[] = [];

/** A fresh directory the `postgres` user can enter (mkdtemp makes them mode 700). */
function freshHome(): string {
  const parent = mkdtempSync(join(tmpdir(), 'local-postgres-test-'));
  chmodSync(parent, 0o755);
  homes.push(parent);
  return join(parent, 'pg');
}

async function start(home: string, options: { password?: string; log?: (line: string) => void } = {}): Promise<LocalPostgres> {
  const pg = await startLocalPostgres({ home, password: options.password ?? PASSWORD, throwaway: true, log: options.log });
  running.push(pg);
  return pg;
}

async function query<T extends object>(url: string, text: string): Promise<T[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return (await sql.unsafe(text)) as unknown as T[];
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Runs test-support/owner.ts; resolves with the server it started once it prints it. */
function startOwner(
  home: string,
  mode: 'hold' | 'exit' = 'hold',
  prefix: string[] = [],
): Promise<{ child: ChildProcess; pid: number; url: string }> {
  const command = [...prefix, process.execPath, '--import', 'tsx', OWNER, home, PASSWORD, mode];
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve({ child, ...(JSON.parse(line) as { pid: number; url: string }) });
    });
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`owner exited ${code}: ${err.trim()}`)));
  });
}

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const pg of running.splice(0)) await pg.stop();
});
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

describe('startLocalPostgres', () => {
  it('creates the cluster once, then reuses its data; stop() leaves no server behind', async () => {
    const home = freshHome();
    const first = await start(home);
    expect(first.created).toBe(true);
    expect(first.major).toBe('16');
    await query(first.url, 'create table kept (v text); insert into kept values ($$from the first run$$)');
    await first.stop();
    expect(processAlive(first.pid)).toBe(false);
    expect(existsSync(join(first.dataDir, 'postmaster.pid'))).toBe(false);

    const second = await start(home);
    expect(second.created).toBe(false);
    expect(second.timings.initdbMs).toBe(0);
    expect(second.pid).not.toBe(first.pid);
    expect(await query<{ v: string }>(second.url, 'select v from kept')).toEqual([{ v: 'from the first run' }]);
    const encoding = await query<{ setting: string }>(second.url, `select setting from pg_settings where name = 'server_encoding'`);
    expect(encoding).toEqual([{ setting: 'UTF8' }]);
  });

  it('stops the server a SIGKILLed owner left running (its pidfile too), keeps the data, and starts anew', async () => {
    const home = freshHome();
    const owner = await startOwner(home);
    await query(owner.url, 'create table kept (v int); insert into kept values (42)');
    owner.child.kill('SIGKILL');
    await new Promise((resolve) => owner.child.once('exit', resolve));
    // What the issue measured: the postmaster outlives its owner, with its pidfile.
    expect(processAlive(owner.pid)).toBe(true);

    const lines: string[] = [];
    const pg = await start(home, { log: (line) => lines.push(line) });
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`stopping the Postgres \\(pid ${owner.pid}\\) that an earlier run left running`)),
    );
    expect(processAlive(owner.pid)).toBe(false);
    expect(pg.created).toBe(false);
    expect(await query<{ v: number }>(pg.url, 'select v from kept')).toEqual([{ v: 42 }]);
  });

  it('refuses a data directory whose owner is alive, naming it', async () => {
    const home = freshHome();
    const owner = await startOwner(home);
    await expect(start(home)).rejects.toThrow(
      new RegExp(`^the Postgres under .*/pg/data \\(pid ${owner.pid}\\) is in use by another process \\(pid ${owner.child.pid}\\)`),
    );
    // Its owner still has it, untouched.
    expect(await query(owner.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    owner.child.kill('SIGTERM');
    expect(await waitForExit(owner.pid, 15_000)).toBe(true);
  });

  it('stops the server when its owner exits without stop()', async () => {
    const home = freshHome();
    const owner = await startOwner(home, 'exit');
    expect(await waitForExit(owner.pid, 15_000)).toBe(true);
  });

  it('refuses another password than the one the cluster was created with, and leaves no server running', async () => {
    const home = freshHome();
    const first = await start(home);
    await first.stop();
    const error = await start(home, { password: 'not the same one' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LocalPostgresError);
    expect((error as Error).message).toMatch(
      /refuses the password it was given \(28P01 .*\): it was created with another one\. Restore that password, or delete /,
    );
    expect(existsSync(join(home, 'data', 'postmaster.pid'))).toBe(false);
  });

  it('refuses a data directory that holds something else than a cluster', async () => {
    const home = freshHome();
    mkdirSync(join(home, 'data'), { recursive: true });
    writeFileSync(join(home, 'data', 'notes.txt'), 'mine');
    await expect(start(home)).rejects.toThrow(/data exists but holds no Postgres cluster \(no PG_VERSION\): move it away or delete it$/);
  });
});

describe.skipIf(!isRoot)('startLocalPostgres as root (Postgres never runs as root)', () => {
  it('runs the server as the postgres user', async () => {
    const pg = await start(freshHome());
    expect(await query<{ user: string }>(pg.url, 'select current_user as user')).toEqual([{ user: 'postgres' }]);
    const uid = spawnSync('ps', ['-o', 'user=', '-p', String(pg.pid)], { encoding: 'utf8' }).stdout.trim();
    expect(uid).toBe('postgres');
  });

  it('names the directory on the way that the postgres user cannot enter', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'local-postgres-test-private-'));
    homes.push(parent);
    await expect(start(join(parent, 'checkout', 'pg'))).rejects.toThrow(
      new RegExp(
        `^Postgres runs as the \`postgres\` user \\(never as root\\), which cannot use ${parent}, on the way to ${parent}/checkout/pg\\. Let it through \\(\`chmod o\\+x ${parent}\`\\)`,
      ),
    );
  });

  const canUnshare = isRoot && spawnSync('unshare', ['-m', 'true']).status === 0;
  it.skipIf(!canUnshare)('stops with one line saying what to do when there is no postgres user (and creates none)', async () => {
    const passwd = join(mkdtempSync(join(tmpdir(), 'local-postgres-test-passwd-')), 'passwd');
    homes.push(join(passwd, '..'));
    spawnSync('sh', ['-c', `grep -v '^postgres:' /etc/passwd > '${passwd}'`]);
    const home = freshHome();
    // A private mount namespace in which /etc/passwd has no postgres user.
    const prefix = ['unshare', '-m', 'sh', '-c', `mount --bind '${passwd}' /etc/passwd && exec "$@"`, 'sh'];
    await expect(startOwner(home, 'hold', prefix)).rejects.toThrow(
      /owner exited 1: running as root, and Postgres will not run as root: there is no `postgres` user to run it as\. Create one \(`useradd .*`\), or run this as a non-root user\.$/,
    );
    expect(existsSync(home)).toBe(false);
    expect(spawnSync('id', ['postgres']).status).toBe(0); // the real one is untouched
  });
});
