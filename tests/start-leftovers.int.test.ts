import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive, processStartTime, waitForExit } from '@billing/local-postgres';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetRun, recordRun, stopLeftovers } from '../scripts/lib/leftovers';

// npm start records its apps in .local/run/<pid>.json; the next npm start stops those a killed
// one left behind. Here the "apps" are sleepers in process groups of their own, as npm start spawns them.

const children: ChildProcess[] = [];
const dirs: string[] = [];

function app(): ChildProcess {
  const child = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
  children.push(child);
  return child;
}

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'start-leftovers-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const child of children.splice(0)) if (child.pid && processAlive(child.pid)) process.kill(-child.pid, 'SIGKILL');
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('stopLeftovers (npm start after a killed npm start)', () => {
  it('stops the apps whose npm start is gone, and forgets its record', async () => {
    const dir = runDir();
    const [ingress, worker] = [app(), app()];
    // The record of an npm start that was SIGKILLed: its pid is no process now.
    const dead = spawn('true');
    await new Promise((resolve) => dead.once('exit', resolve));
    const record = {
      pid: dead.pid,
      apps: [
        { name: 'ingress', pid: ingress.pid, start: processStartTime(ingress.pid!) },
        { name: 'worker', pid: worker.pid, start: processStartTime(worker.pid!) },
      ],
    };
    writeFileSync(join(dir, `${dead.pid}.json`), JSON.stringify(record));

    expect(await stopLeftovers(dir, 5_000)).toEqual([`ingress (pid ${ingress.pid})`, `worker (pid ${worker.pid})`]);
    expect(await waitForExit(ingress.pid!, 5_000)).toBe(true);
    expect(await waitForExit(worker.pid!, 5_000)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('leaves alone the apps of an npm start that still runs (another one, on other ports)', async () => {
    const dir = runDir();
    const dashboard = app();
    // This process plays the live npm start; its record is written as npm start writes it.
    recordRun([{ name: 'dashboard', pid: dashboard.pid }], dir);
    expect(await stopLeftovers(dir, 5_000)).toEqual([]);
    expect(processAlive(dashboard.pid!)).toBe(true);
    forgetRun(dir);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('does not signal a process that merely reuses a recorded pid (its start time differs)', async () => {
    const dir = runDir();
    const other = app();
    writeFileSync(
      join(dir, '1.json'),
      JSON.stringify({ pid: 999_999_999, apps: [{ name: 'worker', pid: other.pid, start: 'not its start time' }] }),
    );
    expect(await stopLeftovers(dir, 5_000)).toEqual([]);
    expect(processAlive(other.pid!)).toBe(true);
  });
});
