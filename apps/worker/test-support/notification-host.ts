import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the host does with one request: answer with a status, or never answer (the sender times out). */
export type HostAnswer = number | 'hang';

export interface ReceivedNotification {
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the host answered (undefined: it did not answer). */
  status?: number;
}

export interface NotificationHost {
  url: string;
  /** Every request the host received, in order. */
  received: ReceivedNotification[];
  /** Decides each answer; the default answers 204. */
  answer: (request: ReceivedNotification, index: number) => HostAnswer;
  /** Stops listening (connections are refused) until `up`. */
  down: () => Promise<void>;
  /** Listens again on the same port. */
  up: () => Promise<void>;
  close: () => Promise<void>;
}

/** A host application's endpoint for tests, on a fixed port it can leave and come back to. */
export async function startNotificationHost(): Promise<NotificationHost> {
  const hanging = new Set<ServerResponse>();
  const host: NotificationHost = {
    url: '',
    received: [],
    answer: () => 204,
    down: async () => {},
    up: async () => {},
    close: async () => {},
  };
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const request: ReceivedNotification = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
          const answer = host.answer(request, host.received.length);
          host.received.push(request);
          if (answer === 'hang') {
            hanging.add(res);
            return;
          }
          request.status = answer;
          res.writeHead(answer).end();
        });
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
    });
  const port = await listen(0);
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      hanging.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  host.url = `http://127.0.0.1:${port}/billing/notifications`;
  host.down = stop;
  host.up = async () => void (await listen(port));
  host.close = stop;
  return host;
}
