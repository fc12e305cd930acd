import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { APP_NODE_FLAGS } from '@billing/runtime/node-flags';
import { describe, expect, it } from 'vitest';

// The image's rules, read from the files themselves (no Docker engine runs here): a
// production-only image on a supported Node that runs as `node`, and a build context without secrets.

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('Dockerfile', () => {
  const lines = read('Dockerfile')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const instructions = lines.map((line) => ({ op: line.split(/\s+/)[0]!.toUpperCase(), args: line.replace(/^\S+\s+/, '') }));
  const indexOf = (predicate: (i: { op: string; args: string }) => boolean) => instructions.findIndex(predicate);

  it('builds from Node 24, the Node of .nvmrc and of the `node` dev dependency that npm scripts run on', () => {
    const from = instructions.filter((i) => i.op === 'FROM');
    expect(from).toHaveLength(1);
    const major = /^node:(\d+)[.-]/.exec(from[0]!.args)?.[1];
    expect(Number(major)).toBe(24);
    expect(read('.nvmrc').trim()).toBe(major);
    const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string>; engines: { node: string } };
    expect(pkg.devDependencies.node?.split('.')[0]).toBe(major);
    expect(pkg.engines.node).toContain(`>=${major}`);
  });

  it('installs production dependencies only, with the npm of packageManager (allowScripts), after copying vendor/', () => {
    const install = indexOf((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    expect(install).toBeGreaterThan(-1);
    expect(instructions[install]!.args).toContain('--omit=dev');
    expect(instructions[install]!.args).not.toMatch(/--include=dev|--production=false/);
    expect(indexOf((i) => i.op === 'COPY' && /^vendor\/? /.test(i.args))).toBeLessThan(install);
    const npmVersion = (JSON.parse(read('package.json')) as { packageManager: string }).packageManager.replace(/^npm@/, '');
    const upgrade = indexOf((i) => i.op === 'RUN' && i.args.includes(`npm install -g npm@${npmVersion}`));
    expect(upgrade).toBeGreaterThan(-1);
    expect(upgrade).toBeLessThan(install);
  });

  it('runs node with the apps’ flags (NODE_OPTIONS), as npm start and the bench do', () => {
    const env = instructions.filter((i) => i.op === 'ENV' && i.args.startsWith('NODE_OPTIONS='));
    expect(env.map((i) => i.args)).toEqual([`NODE_OPTIONS=${APP_NODE_FLAGS.join(' ')}`]);
  });

  it('copies every workspace’s package.json before npm ci, so each workspace is installed (apps import them)', () => {
    const install = indexOf((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args));
    const workspaces = ['apps', 'packages'].flatMap((dir) =>
      readdirSync(new URL(`../${dir}/`, import.meta.url), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(new URL(`../${dir}/${entry.name}/package.json`, import.meta.url)))
        .map((entry) => `${dir}/${entry.name}`),
    );
    expect(workspaces.length).toBeGreaterThan(5);
    for (const workspace of workspaces) {
      const copy = indexOf((i) => i.op === 'COPY' && i.args === `${workspace}/package.json ${workspace}/`);
      expect(copy, workspace).toBeGreaterThan(-1);
      expect(copy, workspace).toBeLessThan(install);
    }
  });

  it('ends as USER node with a node CMD whose script exists', () => {
    const last = instructions.at(-1)!;
    expect(last.op).toBe('CMD');
    const command = JSON.parse(last.args) as string[];
    expect(command.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    expect(existsSync(new URL(`../${command.at(-1)}`, import.meta.url))).toBe(true);
    const users = instructions.filter((i) => i.op === 'USER');
    expect(users.at(-1)?.args).toBe('node');
    expect(indexOf((i) => i.op === 'USER')).toBeGreaterThan(indexOf((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)));
    expect(instructions.slice(indexOf((i) => i.op === 'USER')).filter((i) => i.op === 'RUN')).toEqual([]);
  });

  it('keeps tsx, which the commands run, among the production dependencies', () => {
    const pkg = JSON.parse(read('package.json')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    expect(pkg.dependencies?.tsx).toBeDefined();
    expect(pkg.devDependencies?.tsx).toBeUndefined();
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  /** Docker's rule, enough for these patterns: a path is left out when a pattern matches it or a parent; the last match wins. */
  const excluded = (path: string): boolean => {
    const toRegex = (pattern: string) => {
      const part = (text: string) =>
        text
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]');
      return new RegExp(`^${pattern.replace(/\/$/, '').split('**/').map(part).join('(?:.*/)?')}$`);
    };
    const prefixes = path.split('/').map((_, index, parts) => parts.slice(0, index + 1).join('/'));
    let result = false;
    for (const line of patterns) {
      const negated = line.startsWith('!');
      const regex = toRegex(negated ? line.slice(1) : line);
      if (prefixes.some((prefix) => regex.test(prefix))) result = !negated;
    }
    return result;
  };
  const filesUnder = (dir: string) =>
    (readdirSync(new URL(`../${dir}`, import.meta.url), { recursive: true }) as string[])
      .map((name) => `${dir}/${name}`)
      .filter((path) => statSync(new URL(`../${path}`, import.meta.url)).isFile());

  it('leaves out secrets, local state, dependencies and version control', () => {
    for (const path of [
      '.env',
      '.env.production',
      'apps/worker/.env',
      '.local/webhook-secret',
      'node_modules/tsx/package.json',
      'apps/worker/node_modules/x',
      '.git',
      '.git/HEAD',
      'coverage/index.html',
      '.turbo/cache',
      'bench/results/run.json',
      'npm-debug.log',
    ]) {
      expect(excluded(path), path).toBe(true);
    }
  });

  it('leaves out the tests', () => {
    for (const path of ['tests/e2e.test.ts', 'apps/ingress/src/server.test.ts', 'apps/dashboard/test-support/locked-board.ts'])
      expect(excluded(path), path).toBe(true);
  });

  it('keeps everything the image needs: vendor/, drizzle/ migrations, apps, packages, scripts, manifests', () => {
    const needed = [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'README.md',
      'apps/ingress/src/server.ts',
      'apps/worker/src/server.ts',
      'apps/dashboard/src/server.ts',
      'scripts/migrate.ts',
      'packages/stripe-simulator/src/events.ts', // the demo script's
      'scripts/replay.ts',
      'scripts/backfill.ts',
      ...filesUnder('vendor'),
      ...filesUnder('drizzle'),
    ];
    expect(needed.some((path) => path.endsWith('.tgz'))).toBe(true);
    expect(needed.some((path) => path.endsWith('_journal.json'))).toBe(true);
    for (const path of needed) expect(excluded(path), path).toBe(false);
  });
});
