import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { workerEnvShape } from '@billing/worker/env';
import { loadEnv } from '@billing/runtime/env';
import { checkQueueEnv } from '@billing/queue';

// The compose file's security rules, read from the files themselves (no Docker engine runs here):
// no published database ports, passwords only from required variables, node as the command.
// The image's rules are in image-files.test.ts.

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

const commandOf = (service: Service): string[] =>
  Array.isArray(service.command) ? service.command : service.command ? [service.command] : [];
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
    const inReplication = new Set(
      dataNodes.flatMap(([name, service]) => {
        const master = argAfter(commandOf(service), '--replicaof');
        return master ? [name, master] : [];
      }),
    );
    expect(inReplication.size).toBeGreaterThan(0);
    for (const [name, service] of dataNodes) {
      const command = commandOf(service);
      expect(command[0], name).toBe('redis-server');
      expect(requiredVariable(argAfter(command, '--requirepass')), `${name} --requirepass`).toBe('REDIS_PASSWORD');
      if (inReplication.has(name))
        expect(requiredVariable(argAfter(command, '--masterauth')), `${name} --masterauth`).toBe('REDIS_PASSWORD');
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
    expect(read('packages/queue/src/redis/redis-connection.ts')).not.toContain('sentinelPassword');
  });

  it('gives Postgres its password from a required variable', () => {
    expect(requiredVariable(compose.services.postgres!.environment!.POSTGRES_PASSWORD)).toBe('POSTGRES_PASSWORD');
  });

  it('puts a password from a required variable in every DATABASE_URL and REDIS_URL, and gives every app its URLs', () => {
    const checked: string[] = [];
    for (const [name, service] of services) {
      const env = envOf(service);
      for (const [key, expected] of [
        ['DATABASE_URL', 'POSTGRES_PASSWORD'],
        ['REDIS_URL', 'REDIS_PASSWORD'],
      ] as const) {
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
    expect(apps.map(([name]) => name).sort()).toEqual([
      'dashboard',
      'dashboard-ha',
      'ingress',
      'ingress-ha',
      'migrate',
      'worker',
      'worker-ha',
    ]);
    for (const [name, service] of apps) {
      const command = commandOf(service);
      expect(command.slice(0, 3), name).toEqual(['node', '--import', 'tsx']);
      expect(command, name).not.toContain('npm');
      expect(existsSync(new URL(`../${command.at(-1)}`, import.meta.url)), `${name}: ${command.at(-1)}`).toBe(true);
      expect(service.init, name).toBe(true);
    }
  });

  it('gives each worker a stop grace period longer than its drain', () => {
    const drainMs = loadEnv(
      workerEnvShape,
      { QUEUE_SIGNING_KEY: 'a-queue-signing-key-of-32-characters' },
      checkQueueEnv,
    ).WORKER_SHUTDOWN_TIMEOUT_MS;
    for (const name of ['worker', 'worker-ha']) {
      const env = envOf(compose.services[name]!);
      expect(env.WORKER_SHUTDOWN_TIMEOUT_MS, name).toBeUndefined();
      const grace = /^(\d+)s$/.exec(compose.services[name]!.stop_grace_period ?? '')?.[1];
      expect(Number(grace) * 1000, name).toBeGreaterThan(drainMs);
    }
  });
});

describe('docker-compose.postgres.yml: the same rules', () => {
  const pgCompose = parse(read('docker-compose.postgres.yml'), { merge: true }) as ComposeFile;
  const pgServices = Object.entries(pgCompose.services);

  it('publishes no Postgres or metrics port, only the ingress and the dashboard (on loopback)', () => {
    for (const [name, service] of pgServices) {
      const ports = (service.ports ?? []).map(containerPort);
      if (/^postgres:/.test(service.image ?? '')) expect(service.ports, name).toBeUndefined();
      for (const port of [5432, 9464, 9465]) expect(ports, name).not.toContain(port);
    }
    expect(pgCompose.services.dashboard!.ports).toEqual(['127.0.0.1:3001:3001']);
  });

  it('takes every password from a variable: Postgres and every DATABASE_URL from the required POSTGRES_PASSWORD', () => {
    expect(read('docker-compose.postgres.yml')).not.toMatch(/postgres:postgres@|POSTGRES_PASSWORD: postgres/);
    expect(requiredVariable(pgCompose.services.postgres!.environment!.POSTGRES_PASSWORD)).toBe('POSTGRES_PASSWORD');
    for (const [name, service] of pgServices) {
      const env = envOf(service);
      if (isApp(service))
        expect(requiredVariable(/^postgres:\/\/[^:@/]*:([^@]*)@/.exec(env.DATABASE_URL ?? '')?.[1]), name).toBe('POSTGRES_PASSWORD');
      for (const [key, value] of Object.entries(env)) {
        if (/PASSWORD|SECRET|_KEY$/.test(key)) expect(value, `${name} ${key}`).toMatch(/^\$\{[A-Z][A-Z0-9_]*(:\?[^}]*|:-)\}$/);
      }
    }
  });

  it('starts every app with node directly, under init, and gives the worker a stop grace period longer than its drain', () => {
    for (const [name, service] of pgServices.filter(([, s]) => isApp(s))) {
      expect(commandOf(service).slice(0, 3), name).toEqual(['node', '--import', 'tsx']);
      expect(service.init, name).toBe(true);
    }
    const drainMs = loadEnv(
      workerEnvShape,
      { QUEUE_SIGNING_KEY: 'a-queue-signing-key-of-32-characters' },
      checkQueueEnv,
    ).WORKER_SHUTDOWN_TIMEOUT_MS;
    expect(Number(/^(\d+)s$/.exec(pgCompose.services.worker!.stop_grace_period ?? '')?.[1]) * 1000).toBeGreaterThan(drainMs);
  });
});
