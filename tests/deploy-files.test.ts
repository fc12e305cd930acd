import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { workerEnvShape } from '../apps/worker/src/env';
import { loadEnv } from '@billing/runtime/env';
import { checkRedisEnv } from '@billing/runtime/redis-env';

// The deployment's security rules, read from the files themselves (no Docker engine runs here):
// no published database ports, passwords only from required variables, node as the command,
// a production-only image that runs as `node`, and a build context without secrets.

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, unknown>;
  ports?: Array<string | { target: number | string; published?: number | string; host_ip?: string }>;
  healthcheck?: { test?: string[] };
  profiles?: string[];
  init?: boolean;
  stop_grace_period?: string;
}
type ComposeFile = { services: Record<string, Service> };

// `merge: true`: compose resolves YAML merge keys (`<<: *app`), so these tests must too.
const compose = parse(read('docker-compose.yml'), { merge: true }) as ComposeFile;
const devOverride = parse(read('docker-compose.dev.yml'), { merge: true }) as ComposeFile;
const services = Object.entries(compose.services);

/** A value that is exactly one required variable, `${NAME:?message}`; returns NAME. */
const REQUIRED_VARIABLE = /^\$\{([A-Z][A-Z0-9_]*):\?[^}]*\}$/;
const requiredVariable = (value: unknown): string | undefined => REQUIRED_VARIABLE.exec(String(value))?.[1];

const commandOf = (service: Service): string[] => (Array.isArray(service.command) ? service.command : service.command ? [service.command] : []);
const envOf = (service: Service): Record<string, string> =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value)]));
/** The argument after `flag` in a command array. */
const argAfter = (command: string[], flag: string): string | undefined => {
  const index = command.indexOf(flag);
  return index === -1 ? undefined : command[index + 1];
};

const isApp = (service: Service) => service.build !== undefined;
const isSentinel = (service: Service) => /^redis:/.test(service.image ?? '') && commandOf(service).join(' ').includes('--sentinel');
const isRedisDataNode = (service: Service) => /^redis:/.test(service.image ?? '') && !isSentinel(service);

/** The container port of a short (`[ip:]host:container[/proto]`) or long (`{ target }`) port entry. */
const containerPort = (entry: NonNullable<Service['ports']>[number]): number =>
  typeof entry === 'string' ? Number(entry.split(':').at(-1)!.split('/')[0]) : Number(entry.target);

describe('docker-compose.yml: ports', () => {
  it('publishes no Postgres, Redis or Sentinel port, and no metrics port', () => {
    for (const [name, service] of services) {
      const ports = (service.ports ?? []).map(containerPort);
      if (/^(postgres|redis):/.test(service.image ?? '')) expect(service.ports, name).toBeUndefined();
      for (const port of [5432, 6379, 26379, 9464, 9465]) expect(ports, name).not.toContain(port);
    }
  });

  it('leaves publishing Postgres and Redis to the dev override, on loopback only', () => {
    expect(Object.keys(devOverride.services).sort()).toEqual(['postgres', 'redis']);
    for (const [name, service] of Object.entries(devOverride.services)) {
      expect(service.ports?.length, name).toBeGreaterThan(0);
      for (const entry of service.ports ?? []) {
        if (typeof entry === 'string') expect(entry, name).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
        else expect(entry.host_ip, name).toBe('127.0.0.1');
      }
    }
    expect(containerPort(devOverride.services.postgres!.ports![0]!)).toBe(5432);
    expect(containerPort(devOverride.services.redis!.ports![0]!)).toBe(6379);
  });
});

describe('docker-compose.yml: passwords', () => {
  const dataNodes = services.filter(([, service]) => isRedisDataNode(service));
  const sentinels = services.filter(([, service]) => isSentinel(service));

  it('finds the Redis data nodes and sentinels it checks', () => {
    expect(dataNodes.map(([name]) => name).sort()).toEqual(['redis', 'redis-primary', 'redis-replica']);
    expect(sentinels.map(([name]) => name).sort()).toEqual(['sentinel-1', 'sentinel-2', 'sentinel-3']);
  });

  it('runs every Redis data node with requirepass, and masterauth where it replicates, from REDIS_PASSWORD', () => {
    // A node that some node replicates from can itself become a replica after a failover.
    const inReplication = new Set(dataNodes.flatMap(([name, service]) => {
      const master = argAfter(commandOf(service), '--replicaof');
      return master ? [name, master] : [];
    }));
    expect(inReplication.size).toBeGreaterThan(0);
    for (const [name, service] of dataNodes) {
      const command = commandOf(service);
      expect(command[0], name).toBe('redis-server');
      expect(requiredVariable(argAfter(command, '--requirepass')), `${name} --requirepass`).toBe('REDIS_PASSWORD');
      if (inReplication.has(name)) expect(requiredVariable(argAfter(command, '--masterauth')), `${name} --masterauth`).toBe('REDIS_PASSWORD');
    }
  });

  it('health-checks every Redis data node with the password (redis-cli exits 0 on NOAUTH, hence the grep)', () => {
    for (const [name, service] of dataNodes) {
      const [kind, script] = service.healthcheck?.test ?? [];
      expect(kind, name).toBe('CMD-SHELL');
      expect(script, name).toMatch(/^redis-cli --no-auth-warning -a "\$\$REDIS_PASSWORD" ping \| grep -q PONG$/);
      expect(requiredVariable(envOf(service).REDIS_PASSWORD), name).toBe('REDIS_PASSWORD');
    }
  });

  it('has every sentinel log in to the data nodes; the sentinels themselves take no password, as the apps send them none', () => {
    for (const [name, service] of sentinels) {
      const script = commandOf(service).join(' ');
      const master = /sentinel monitor (\S+) /.exec(script)?.[1];
      expect(master, name).toBeDefined();
      expect(script, name).toContain(`"sentinel auth-pass ${master} $$REDIS_PASSWORD"`);
      expect(script.indexOf('sentinel auth-pass'), name).toBeGreaterThan(script.indexOf('sentinel monitor'));
      expect(script, name).not.toContain('requirepass');
      expect(requiredVariable(envOf(service).REDIS_PASSWORD), name).toBe('REDIS_PASSWORD');
    }
    // If the apps ever send sentinels a password, the sentinels may get requirepass too.
    expect(read('packages/queue/src/redis-connection.ts')).not.toContain('sentinelPassword');
  });

  it('gives Postgres its password from a required variable', () => {
    expect(requiredVariable(compose.services.postgres!.environment!.POSTGRES_PASSWORD)).toBe('POSTGRES_PASSWORD');
  });

  it('puts a password from a required variable in every DATABASE_URL and REDIS_URL, and gives every app its URLs', () => {
    const checked: string[] = [];
    for (const [name, service] of services) {
      const env = envOf(service);
      for (const [key, expected] of [['DATABASE_URL', 'POSTGRES_PASSWORD'], ['REDIS_URL', 'REDIS_PASSWORD']] as const) {
        if (env[key] === undefined) continue;
        const password = /^[a-z]+:\/\/[^:@/]*:([^@]*)@/.exec(env[key])?.[1];
        expect(requiredVariable(password), `${name} ${key}`).toBe(expected);
        checked.push(`${name} ${key}`);
      }
      if (isApp(service) && name !== 'migrate') expect(env.REDIS_URL, `${name} REDIS_URL`).toBeDefined();
    }
    expect(envOf(compose.services.migrate!).DATABASE_URL).toBeDefined();
    expect(envOf(compose.services.worker!).DATABASE_URL).toBeDefined();
    expect(envOf(compose.services['worker-ha']!).DATABASE_URL).toBeDefined();
    expect(checked.length).toBeGreaterThanOrEqual(10);
  });

  it('has no literal password anywhere: secrets are variables, and optional ones default to empty', () => {
    expect(read('docker-compose.yml')).not.toMatch(/postgres:postgres@|POSTGRES_PASSWORD: postgres/);
    for (const [name, service] of services) {
      for (const [key, value] of Object.entries(envOf(service))) {
        if (/PASSWORD|SECRET|_KEY$/.test(key)) expect(value, `${name} ${key}`).toMatch(/^\$\{[A-Z][A-Z0-9_]*(:\?[^}]*|:-)\}$/);
        // Any other URL with credentials: the password part is a required variable.
        const password = /:\/\/[^:@/\s]*:([^@\s]+)@/.exec(value)?.[1];
        if (password !== undefined) expect(requiredVariable(password), `${name} ${key}`).toBeDefined();
      }
      const command = commandOf(service);
      for (const flag of ['--requirepass', '--masterauth']) {
        if (command.includes(flag)) expect(requiredVariable(argAfter(command, flag)), `${name} ${flag}`).toBeDefined();
      }
    }
  });
});

describe('docker-compose.yml: processes', () => {
  const apps = services.filter(([, service]) => isApp(service));

  it('starts every app with node directly (npm does not forward SIGTERM reliably), a script that exists, under init', () => {
    expect(apps.map(([name]) => name).sort()).toEqual(['dashboard', 'dashboard-ha', 'ingress', 'ingress-ha', 'migrate', 'worker', 'worker-ha']);
    for (const [name, service] of apps) {
      const command = commandOf(service);
      expect(command.slice(0, 3), name).toEqual(['node', '--import', 'tsx']);
      expect(command, name).not.toContain('npm');
      expect(existsSync(new URL(`../${command.at(-1)}`, import.meta.url)), `${name}: ${command.at(-1)}`).toBe(true);
      expect(service.init, name).toBe(true);
    }
  });

  it('gives each worker a stop grace period longer than its drain', () => {
    const drainMs = loadEnv(workerEnvShape, { QUEUE_SIGNING_KEY: 'a-queue-signing-key-of-32-characters' }, checkRedisEnv).WORKER_SHUTDOWN_TIMEOUT_MS;
    for (const name of ['worker', 'worker-ha']) {
      const env = envOf(compose.services[name]!);
      expect(env.WORKER_SHUTDOWN_TIMEOUT_MS, name).toBeUndefined();
      const grace = /^(\d+)s$/.exec(compose.services[name]!.stop_grace_period ?? '')?.[1];
      expect(Number(grace) * 1000, name).toBeGreaterThan(drainMs);
    }
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  const instructions = lines.map((line) => ({ op: line.split(/\s+/)[0]!.toUpperCase(), args: line.replace(/^\S+\s+/, '') }));
  const indexOf = (predicate: (i: { op: string; args: string }) => boolean) => instructions.findIndex(predicate);

  it('builds from Node 22 or newer', () => {
    const from = instructions.filter((i) => i.op === 'FROM');
    expect(from).toHaveLength(1);
    const major = /^node:(\d+)[.-]/.exec(from[0]!.args)?.[1];
    expect(Number(major)).toBeGreaterThanOrEqual(22);
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
  const patterns = read('.dockerignore').split('\n').map((line) => line.trim()).filter((line) => line && !line.startsWith('#'));
  /** Docker's rule, enough for these patterns: a path is left out when a pattern matches it or a parent; the last match wins. */
  const excluded = (path: string): boolean => {
    const toRegex = (pattern: string) => {
      const part = (text: string) => text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
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
    for (const path of ['.env', '.env.production', 'apps/worker/.env', '.local/webhook-secret', 'node_modules/tsx/package.json', 'apps/worker/node_modules/x', '.git', '.git/HEAD', 'coverage/index.html', '.turbo/cache', 'bench/results/run.json', 'npm-debug.log']) {
      expect(excluded(path), path).toBe(true);
    }
  });

  it('leaves out the tests', () => {
    for (const path of ['tests/e2e.test.ts', 'apps/ingress/src/server.test.ts', 'apps/dashboard/test-support/locked-board.ts']) expect(excluded(path), path).toBe(true);
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
      'packages/db/src/migrate-cli.ts',
      'packages/testing/src/stripe-events.ts', // the demo script's
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
