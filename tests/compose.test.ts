import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

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
    expect(service('migrate').command.join(' ')).toBe('npm run db:migrate');
    expect(service('ingress').command.join(' ')).toBe('npm run start:ingress');
    expect(service('worker').command.join(' ')).toBe('npm run start:worker');
    expect(service('dashboard').command.join(' ')).toBe('npm run start:dashboard');
    expect(service('worker').depends_on.migrate.condition).toBe('service_completed_successfully');
    expect(service('dashboard').environment.DASHBOARD_PASSWORD).toBeTruthy();
  });
});
