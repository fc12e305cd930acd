import { readFileSync } from 'node:fs';
import net from 'node:net';
import { dropQueue, queueBackends, testQueueLocation, uniqueQueueName, type TestQueueLocation } from '@billing/testing/test-queue';
import { freePort } from '@billing/testing/ports';
import { startApp, type AppProcess } from '@billing/testing/processes';
import { signatureHeader } from '@billing/stripe-simulator/events';
import { waitFor } from '@billing/testing/wait-for';
import { afterEach, describe, expect, it } from 'vitest';
import { openSlowBodies, openSlowHeaders, type SlowClients } from '@billing/testing/slow-clients';
import { invoiceEvent, SECRETS } from '../test-support/test-ingress';
import { WEBHOOK_PATH } from './webhook-route';

const REQUEST_TIMEOUT_MS = 2_000;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]) / 1024;
}

let running: { app: AppProcess; location: TestQueueLocation; queueName: string; slow: SlowClients[] } | undefined;

async function startIngress(env: Record<string, string> = {}): Promise<{ app: AppProcess; port: number }> {
  const port = await freePort();
  const queueName = uniqueQueueName('ingress-slow');
  // Slow clients are the HTTP layer's business: one backend is enough (Redis where there is one).
  const location = await testQueueLocation(queueBackends()[0]!, 'ingress_slow');
  const app = await startApp(
    'ingress',
    {
      STRIPE_WEBHOOK_SECRET: SECRETS.join(','),
      ...location.env,
      QUEUE_NAME: queueName,
      PORT: String(port),
      HOST: '127.0.0.1',
      INGRESS_METRICS_PORT: '0',
      INGRESS_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      ...env,
    },
    /"msg":"ingress listening"/,
  );
  running = { app, location, queueName, slow: [] };
  return { app, port };
}

afterEach(async () => {
  if (!running) return;
  for (const slow of running.slow) slow.stop();
  await running.app.stop('SIGTERM');
  await dropQueue(running.location.config, running.queueName);
  await running.location.drop();
  running = undefined;
});

async function postValid(port: number): Promise<number> {
  const { body } = invoiceEvent();
  const res = await fetch(`http://127.0.0.1:${port}${WEBHOOK_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signatureHeader(body, SECRETS[0]) },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('slow clients against a real ingress process (request timeout 2 s)', () => {
  it('keeps memory bounded and closes 100 slow bodies and 100 slow headers, while valid deliveries are answered 200', async () => {
    const { app, port } = await startIngress();
    const pid = app.child.pid as number;
    const before = rssMiB(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 50);
    try {
      // Each announces 1 MiB and sends all but 64 bytes of it, then a byte every 500 ms.
      const bodies = await openSlowBodies({ port, connections: 100, trickleMs: 500 });
      const headers = await openSlowHeaders({ port, connections: 100, trickleMs: 500 });
      running?.slow.push(bodies, headers);

      const statuses: number[] = [];
      const sendValid = (async () => {
        while (bodies.closed() + headers.closed() < 200 && statuses.length < 200) {
          statuses.push(await postValid(port));
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      // Bounded wait, not a timing assertion: without the limits none of them is ever closed.
      await waitFor(() => bodies.closed() === 100 && headers.closed() === 100, 'every slow connection closed by the server', 15_000);
      await sendValid;

      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s !== 200)).toEqual([]);
      // Unbounded, the 100 slow 1 MiB bodies held +99 MiB here; with the 32 MiB large-body budget, +34 MiB.
      expect(peak - before).toBeLessThan(64);
    } finally {
      clearInterval(sampler);
    }
    expect(await postValid(port)).toBe(200);
  });

  it('refuses connections beyond INGRESS_MAX_CONNECTIONS', async () => {
    const { port } = await startIngress({ INGRESS_MAX_CONNECTIONS: '20' });
    const headers = await openSlowHeaders({ port, connections: 30, trickleMs: 200 });
    running?.slow.push(headers);
    // The ten over the limit are closed on arrival, well before the headers timeout.
    await waitFor(() => headers.closed() >= 10, 'the connections over the limit closed');
    expect(headers.closed()).toBeLessThan(30);
    await waitFor(() => headers.closed() === 30, 'the rest closed by the headers timeout', 15_000);
    expect(await postValid(port)).toBe(200);
  });

  it('answers a large body that does not fit the budget with 503 overloaded and Connection: close, unread', async () => {
    const { port } = await startIngress();
    const bodies = await openSlowBodies({ port, connections: 40, trickleMs: 500 });
    running?.slow.push(bodies);
    // 32 of the 1 MiB bodies fill the 32 MiB budget; a 40th large one is refused at once.
    await waitFor(() => bodies.closed() >= 8, 'the bodies over the budget refused');
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () =>
        socket.write(
          `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: 500000\r\n\r\n`,
        ),
      );
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 503/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('{"error":"overloaded"}');
    // A small delivery still fits.
    expect(await postValid(port)).toBe(200);
  });
});
