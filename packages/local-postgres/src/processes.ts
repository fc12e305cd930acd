import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Whether a process with this id exists (a zombie counts as gone). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return procStat(pid)?.state !== 'Z';
}

/**
 * When the process started, as an opaque token (Linux: clock ticks since boot, from /proc), so a
 * recorded process id can be told from a later process that happens to get the same id.
 * `undefined` where it cannot be read (the id alone is then trusted).
 */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.start;
}

/** The recorded process is still the one that was recorded (same id, same start time where known). */
export function sameProcess(recorded: { pid: number; start?: string | undefined }): boolean {
  if (!processAlive(recorded.pid)) return false;
  if (recorded.start === undefined) return true;
  const now = processStartTime(recorded.pid);
  return now === undefined || now === recorded.start;
}

/** The process's command line (argv), or `undefined` when it cannot be read. */
export function processArgv(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((arg, i, all) => arg !== '' || i < all.length - 1);
  } catch {
    try {
      // Not Linux: `ps` prints the command line with spaces between arguments.
      const line = execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return line.trim().split(/\s+/);
    } catch {
      return undefined;
    }
  }
}

/** Waits until the process is gone; `false` when it is still there after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(25);
  }
  return true;
}

/** Sends a signal, ignoring "no such process". */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}
