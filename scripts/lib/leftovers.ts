import { processAlive, processStartTime, sameProcess, signal, waitForExit } from '@billing/local-postgres';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * What each `npm start` runs, recorded in `.local/run/<pid>.json` while it runs, so that a later
 * `npm start` can stop what a killed one left behind (SIGKILL: no handler runs, and the apps, each
 * in a process group of its own, keep running). Several may run at once (other ports): a record
 * whose `npm start` is alive is left alone. The embedded Postgres keeps its own record
 * (@billing/local-postgres).
 */
export const RUN_DIR = fileURLToPath(new URL('../../.local/run', import.meta.url));

interface Recorded {
  pid: number;
  start?: string;
}

interface RunRecord extends Recorded {
  apps: Array<Recorded & { name: string }>;
}

const ownFile = (dir: string) => join(dir, `${process.pid}.json`);

export function recordRun(apps: Array<{ name: string; pid: number | undefined }>, dir = RUN_DIR): void {
  const record: RunRecord = {
    pid: process.pid,
    start: processStartTime(process.pid),
    apps: apps.flatMap(({ name, pid }) => (pid === undefined ? [] : [{ name, pid, start: processStartTime(pid) }])),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(ownFile(dir), `${JSON.stringify(record)}\n`, { mode: 0o600 });
}

export function forgetRun(dir = RUN_DIR): void {
  rmSync(ownFile(dir), { force: true });
}

/**
 * Stops the apps that killed `npm start`s left behind: SIGTERM to each app's group (they drain
 * and exit), SIGKILL after `graceMs`. Returns what it stopped, e.g. `worker (pid 123)`.
 */
export async function stopLeftovers(dir = RUN_DIR, graceMs = 15_000): Promise<string[]> {
  let files: string[];
  try {
    files = readdirSync(dir).filter((name) => name.endsWith('.json'));
  } catch {
    return [];
  }
  const stopped: string[] = [];
  for (const name of files) {
    const file = join(dir, name);
    let record: RunRecord;
    try {
      record = JSON.parse(readFileSync(file, 'utf8')) as RunRecord;
    } catch {
      rmSync(file, { force: true });
      continue;
    }
    if (record.pid === process.pid || sameProcess(record)) continue;
    const alive = (record.apps ?? []).filter((app) => sameProcess(app));
    for (const app of alive) signalGroup(app.pid, 'SIGTERM');
    for (const app of alive) {
      if (!(await waitForExit(app.pid, graceMs))) signalGroup(app.pid, 'SIGKILL');
    }
    for (const app of alive) await waitForExit(app.pid, 5_000);
    stopped.push(...alive.map((app) => `${app.name} (pid ${app.pid})`));
    rmSync(file, { force: true });
  }
  return stopped;
}

/** Each app leads its own process group (spawned detached): signal the group, else the process. */
function signalGroup(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(-pid, name);
  } catch {
    if (processAlive(pid)) signal(pid, name);
  }
}
