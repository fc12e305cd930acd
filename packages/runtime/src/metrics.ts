import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** A registry of its own per process (or per test app), with Node's default process metrics. */
export function createRegistry(app: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Whether the process does its work, and if not why (`GET /readyz`: 200 or 503 with this body). */
export type ReadinessCheck = () => { ready: boolean; [detail: string]: unknown };

/** A bare HTTP server answering `GET /metrics`, `/healthz` and, given a check, `/readyz`, for processes that have no HTTP API. */
export async function serveMetrics(registry: Registry, port: number, host: string, readiness?: ReadinessCheck): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/readyz' && readiness) {
      const state = readiness();
      res.writeHead(state.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(state));
      return;
    }
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (error: unknown) => res.writeHead(500).end(String(error)),
      );
    } else if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
