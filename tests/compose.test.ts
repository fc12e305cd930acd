import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { dashboardEnvShape } from '@billing/dashboard/env';
import { ingressEnvShape } from '@billing/ingress/env';
import { workerEnvShape } from '@billing/worker/env';
import { loadEnv } from '@billing/runtime/env';
import { checkQueueEnv, queueConfigFromEnv } from '@billing/queue';

// No Docker engine runs here, so the compose file is checked by reading it.
// `merge: true`: compose resolves YAML merge keys (`<<: *app`), so the test must too.
const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as {
  services: Record<string, Record<string, unknown>>;
  volumes: Record<string, unknown>;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form compose YAML, checked field by field below
const service = (name: string) => compose.services[name] as Record<string, any>;

describe('docker-compose.yml', () => {
  it('runs Postgres 16 with a volume and a healthcheck', () => {
    expect(service('postgres').image).toMatch(/^postgres:16/);
    expect(service('postgres').volumes.join()).toMatch(/:\/var\/lib\/postgresql\/data$/);
    expect(service('postgres').healthcheck.test.join(' ')).toContain('pg_isready');
  });

  it('runs Redis 7 with AOF every second, noeviction and a volume', () => {
    const redis = service('redis');
    expect(redis.image).toMatch(/^redis:7/);
    const command = redis.command.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--appendfsync everysec');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(redis.volumes.join()).toMatch(/:\/data$/);
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['postgres-data', 'redis-data']));
  });

  it('publishes the ingress webhook port but not its metrics port', () => {
    const ingress = service('ingress');
    expect(ingress.ports).toEqual(['3000:3000']);
    expect(ingress.environment.INGRESS_METRICS_PORT).toBe('9465');
    expect(ingress.environment.INGRESS_METRICS_HOST).toBe('0.0.0.0');
    expect(ingress.ports.join()).not.toContain('9465');
  });

  it('builds migrate, ingress, worker and dashboard from one Dockerfile, migrating first', () => {
    for (const name of ['migrate', 'ingress', 'worker', 'dashboard']) {
      expect(service(name).build, name).toBe('.');
    }
    expect(service('migrate').command.join(' ')).toBe('node --import tsx scripts/migrate.ts');
    expect(service('ingress').command.join(' ')).toBe('node --import tsx apps/ingress/src/server.ts');
    expect(service('worker').command.join(' ')).toBe('node --import tsx apps/worker/src/server.ts');
    expect(service('dashboard').command.join(' ')).toBe('node --import tsx apps/dashboard/src/server.ts');
    expect(service('worker').depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(service('dashboard').environment.DASHBOARD_PASSWORD).toBeTruthy();
  });

  describe('profile "ha"', () => {
    const ha = Object.keys(compose.services).filter((name) => (service(name).profiles ?? []).includes('ha'));
    /** The environment as a container sees it, `${VAR:?…}` / `${VAR:-…}` given a plausible value. */
    const envOf = (name: string): Record<string, string> =>
      Object.fromEntries(
        Object.entries(service(name).environment as Record<string, string>).map(([key, value]) => [
          key,
          String(value).replace(
            /\$\{[A-Z_]+:[?-][^}]*\}/g,
            key === 'STRIPE_WEBHOOK_SECRET'
              ? 'whsec_compose'
              : key === 'STRIPE_SECRET_KEY' || key.startsWith('NOTIFY_')
                ? ''
                : key === 'DASHBOARD_PASSWORD'
                  ? 'a-password-of-sixteen'
                  : key === 'QUEUE_SIGNING_KEY'
                    ? 'a-queue-signing-key-of-32-characters'
                    : 'value',
          ),
        ]),
      );

    it('has a primary, a replica of it and three sentinels, and the apps; the single-Redis stack stays outside the profile', () => {
      expect(ha.sort()).toEqual([
        'dashboard-ha',
        'ingress-ha',
        'redis-primary',
        'redis-replica',
        'sentinel-1',
        'sentinel-2',
        'sentinel-3',
        'worker-ha',
      ]);
      for (const name of ['postgres', 'redis', 'migrate', 'ingress', 'worker', 'dashboard'])
        expect(service(name).profiles, name).toBeUndefined();
      expect(service('redis-replica').command.join(' ')).toContain('--replicaof redis-primary 6379');
    });

    it('runs both data nodes with AOF and noeviction', () => {
      for (const name of ['redis-primary', 'redis-replica']) {
        const command = service(name).command.join(' ');
        expect(command, name).toContain('--appendonly yes');
        expect(command, name).toMatch(/--appendfsync (everysec|always)/);
        expect(command, name).toContain('--maxmemory-policy noeviction');
        expect(service(name).volumes.join(), name).toMatch(/:\/data$/);
      }
    });

    it('has every sentinel monitor the primary under the name the apps use, quorum 2', () => {
      for (const name of ['sentinel-1', 'sentinel-2', 'sentinel-3']) {
        const script = service(name).command.join(' ');
        expect(script, name).toContain(`sentinel monitor ${envOf('ingress-ha').REDIS_SENTINEL_NAME} redis-primary 6379 2`);
        expect(script, name).toContain('port 26379');
        expect(script, name).toContain('--sentinel');
      }
    });

    it('configures the apps with the three sentinels, the ingress with REDIS_MIN_REPLICAS_ACK=1, and each passes its own env check', () => {
      const shapes = { 'ingress-ha': ingressEnvShape, 'worker-ha': workerEnvShape, 'dashboard-ha': dashboardEnvShape } as const;
      for (const [name, shape] of Object.entries(shapes)) {
        const env = envOf(name);
        expect(env.REDIS_SENTINELS?.split(',').sort(), name).toEqual(['sentinel-1:26379', 'sentinel-2:26379', 'sentinel-3:26379']);
        expect(() => loadEnv(shape, env, checkQueueEnv), name).not.toThrow();
        for (const sentinel of ['sentinel-1', 'sentinel-2', 'sentinel-3'])
          expect(service(name).depends_on[sentinel].condition, name).toBe('service_healthy');
      }
      expect(envOf('ingress-ha').REDIS_MIN_REPLICAS_ACK).toBe('1');
      expect(service('worker-ha').depends_on.migrate.condition).toBe('service_completed_successfully');
    });

    it('publishes its apps on host ports of their own, so both stacks can run side by side', () => {
      const published = Object.values(compose.services).flatMap((s) =>
        ((s.ports as string[] | undefined) ?? []).map((p) => p.split(':').slice(-2, -1)[0]),
      );
      expect(new Set(published).size).toBe(published.length);
    });
  });
});

describe('docker-compose.postgres.yml (the Postgres-only profile)', () => {
  const file = parse(readFileSync(new URL('../docker-compose.postgres.yml', import.meta.url), 'utf8'), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form compose YAML, checked field by field below
  const pgService = (name: string) => file.services[name] as Record<string, any>;
  const plausible = (env: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(env).map(([key, value]) => [
        key,
        String(value).replace(
          /\$\{[A-Z_]+:[?-][^}]*\}/g,
          {
            STRIPE_WEBHOOK_SECRET: 'whsec_compose',
            STRIPE_SECRET_KEY: '',
            NOTIFY_URL: '',
            NOTIFY_SECRET: '',
            DASHBOARD_PASSWORD: 'a-password-of-sixteen',
          }[key] ?? (key === 'QUEUE_SIGNING_KEY' ? 'a-queue-signing-key-of-32-characters' : 'value'),
        ),
      ]),
    );

  it('runs Postgres, migrate and the three apps, and no Redis at all', () => {
    expect(Object.keys(file.services).sort()).toEqual(['dashboard', 'ingress', 'migrate', 'postgres', 'worker']);
    expect(readFileSync(new URL('../docker-compose.postgres.yml', import.meta.url), 'utf8')).not.toMatch(/REDIS_|redis:/);
    expect(pgService('migrate').command.join(' ')).toBe('node --import tsx scripts/migrate.ts');
    for (const name of ['ingress', 'worker', 'dashboard']) {
      expect(pgService(name).depends_on.migrate.condition, name).toBe('service_completed_successfully');
      expect(pgService(name).depends_on.postgres.condition, name).toBe('service_healthy');
    }
  });

  it('puts every app and migrate on the Postgres queue, each passing its own env check', () => {
    const shapes = { ingress: ingressEnvShape, worker: workerEnvShape, dashboard: dashboardEnvShape, migrate: ingressEnvShape } as const;
    for (const [name, shape] of Object.entries(shapes)) {
      const env = plausible(pgService(name).environment as Record<string, string>);
      expect(env.QUEUE_BACKEND, name).toBe('postgres');
      if (name === 'migrate') continue;
      const loaded = loadEnv(shape, env, checkQueueEnv);
      expect(queueConfigFromEnv(loaded), name).toMatchObject({ backend: 'postgres', url: env.DATABASE_URL, schema: 'bullmq' });
    }
    expect(pgService('ingress').ports).toEqual(['3000:3000']);
    expect(pgService('dashboard').ports).toEqual(['127.0.0.1:3001:3001']);
  });
});
