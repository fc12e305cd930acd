import { readFileSync } from 'node:fs';
import { isWritablePrimary, producerConnection, type QueueConfig, type RedisConfig, type RedisConnection } from '@billing/queue';
import { runScript } from '@billing/testing/processes';
import { redisServerProblem, startPrivateRedis, type PrivateRedis } from '@billing/testing/redis-server';
import { makeTestCertificates, opensslProblem, type TestCertificates } from '@billing/testing/tls-certificates';
import { afterAll, describe, expect, it } from 'vitest';
import { createCleanupStack } from '@billing/testing/faults/cleanup-stack';
import { figureLine, measureFigures } from '@billing/testing/faults/figures';
import { startIngress, startWorker } from '@billing/testing/faults/fleet';
import { deliver, httpRequest } from '@billing/testing/faults/http-client';
import { openScenario } from '@billing/testing/faults/scenario';
import { waitForSettled } from '@billing/testing/faults/settle';
import { historiesTotalling, interleaved } from '@billing/testing/faults/subscriptions';

const cleanup = createCleanupStack();
afterAll(() => cleanup.runAll(), 60_000);

/** Certificates and two TLS servers (one demanding a client certificate), or why this machine cannot run them. */
async function setup(): Promise<{ certs: TestCertificates; privateCa: PrivateRedis; clientAuth: PrivateRedis } | string> {
  const missing = redisServerProblem() ?? opensslProblem();
  if (missing) return missing;
  const certs = makeTestCertificates();
  cleanup.defer('remove the test certificates', () => certs.remove());
  const files = { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile };
  try {
    const privateCa = await startPrivateRedis({ tls: { ...files, authClients: false } });
    cleanup.defer('stop the TLS redis-server', () => privateCa.dispose());
    const clientAuth = await startPrivateRedis({ tls: { ...files, authClients: true } });
    cleanup.defer('stop the client-certificate redis-server', () => clientAuth.dispose());
    return { certs, privateCa, clientAuth };
  } catch (error) {
    return `redis-server cannot serve TLS here: ${(error as Error).message.split('\n').find((l) => /TLS|tls/.test(l)) ?? (error as Error).message.split('\n')[0]}`;
  }
}
const servers = await setup();
if (typeof servers === 'string') console.log(`[topology] redis tls: skipped — ${servers}`);

/** Resolves with the first error the connection reports, or `ready`. */
async function outcome(connection: RedisConnection): Promise<string> {
  const result = await new Promise<string>((resolve) => {
    connection.once('ready', () => resolve('ready'));
    connection.once('error', (error: Error) => resolve(`${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim()));
  });
  connection.on('error', () => {});
  return result;
}

describe.skipIf(typeof servers === 'string')('Redis over TLS with a private CA (rediss://, REDIS_TLS_* files)', () => {
  const { certs, privateCa, clientAuth } = servers as Exclude<typeof servers, string>;
  const read = (path: string) => readFileSync(path);
  const url = (redis: PrivateRedis) => `rediss://127.0.0.1:${redis.port}`;
  const open: RedisConnection[] = [];
  afterAll(() => {
    for (const c of open) c.disconnect();
  });
  const connect = (config: RedisConfig) => {
    const connection = producerConnection(config, { timeoutMs: 3_000 });
    open.push(connection);
    return connection;
  };

  it('verifies the server against the private CA, and refuses it without that CA or with another one', async () => {
    const trusted = connect({ url: url(privateCa), tls: { ca: read(certs.caFile) } });
    expect(await outcome(trusted)).toBe('ready');
    expect(await isWritablePrimary(trusted)).toBe(true);
    expect(await outcome(connect({ url: url(privateCa) }))).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|unable to (get|verify)/i);
    expect(await outcome(connect({ url: url(privateCa), tls: { ca: read(certs.otherCaFile) } }))).toMatch(
      /SELF_SIGNED|UNABLE_TO_VERIFY|unable to (get|verify)/i,
    );
  });

  it('presents the client certificate to a server with tls-auth-clients yes, which refuses a client without one', async () => {
    const withCert = connect({
      url: url(clientAuth),
      tls: { ca: read(certs.caFile), cert: read(certs.clientCertFile), key: read(certs.clientKeyFile) },
    });
    expect(await outcome(withCert)).toBe('ready');
    expect(await withCert.ping()).toBe('PONG');
    const without = connect({ url: url(clientAuth), tls: { ca: read(certs.caFile) } });
    expect(await outcome(without)).not.toBe('ready');
    expect(without.status).not.toBe('ready');
  });

  it('the ingress and the worker configured with REDIS_TLS_CA_FILE / _CERT_FILE / _KEY_FILE: webhooks reach the ledger', async () => {
    const env = { REDIS_TLS_CA_FILE: certs.caFile, REDIS_TLS_CERT_FILE: certs.clientCertFile, REDIS_TLS_KEY_FILE: certs.clientKeyFile };
    const redis: RedisConfig = {
      url: url(clientAuth),
      tls: { ca: read(certs.caFile), cert: read(certs.clientCertFile), key: read(certs.clientKeyFile) },
    };
    // TLS to Redis: the Redis backend only (the apps read the TLS files from `env`).
    const queue: QueueConfig = { backend: 'redis', redis, prefix: 'bull' };
    const s = await openScenario('tls', { backend: 'redis', queue, cleanup });
    const events = interleaved(await historiesTotalling(s.db.sql, 20));
    const [ingress, worker] = await Promise.all([
      startIngress(cleanup, { queue, queueName: s.queueName, secret: s.secret, env }),
      startWorker(cleanup, { databaseUrl: s.db.url, queue, queueName: s.queueName, env }),
    ]);
    const answers = [];
    for (const event of events) answers.push(await deliver(ingress.port, event, s.secret));
    const acknowledged = answers.filter((a) => a.status === 200).map((a) => a.eventId);
    const settle = await waitForSettled(s.db.sql, s.queue, acknowledged, 30_000);
    const figures = await measureFigures(s.db.sql, { sent: events.map((e) => e.id), acknowledged, workers: [worker] });
    console.log(figureLine('tls with a client certificate', figures, { settled_ms: settle.ms }));
    expect(figures).toMatchObject({ sent: events.length, acknowledged: events.length, applied: events.length, appliedTwice: 0, lost: 0 });
    expect((await httpRequest({ port: ingress.port, method: 'GET', path: '/readyz' })).status).toBe(200);
  });

  it('a TLS file that cannot be read stops the ingress at start with one line naming it', async () => {
    const missing = `${certs.dir}/no-such-ca.pem`;
    const { status, stderr } = await runScript('apps/ingress/src/server.ts', [], {
      STRIPE_WEBHOOK_SECRET: 'whsec_tls_check',
      REDIS_URL: url(privateCa),
      REDIS_TLS_CA_FILE: missing,
    });
    expect(status).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([`ingress: REDIS_TLS_CA_FILE must name a readable file (ENOENT) (got "${missing}")`]);
  });
});
