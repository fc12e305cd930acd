import net from 'node:net';

/**
 * Slow clients, as an attacker would open them (test and probe support, never imported by the
 * app): bodies that announce a size, send almost all of it, then trickle; headers that never end.
 */
export interface SlowClients {
  /** Connections the server has closed (or reset) so far. */
  closed: () => number;
  /** Connections opened. */
  opened: () => number;
  /** Destroys every connection still open and stops trickling. */
  stop: () => void;
}

export interface SlowClientOptions {
  host?: string;
  port: number;
  connections: number;
  /** Bytes announced in `Content-Length` (slow bodies). @defaultValue 1 MiB */
  contentLength?: number;
  /** Bytes held back from the announced body, then sent one at a time. @defaultValue 64 */
  heldBack?: number;
  /** One more byte every this many ms. @defaultValue 5000 */
  trickleMs?: number;
  path?: string;
}

/** `connections` requests that announce `contentLength` bytes, send all but `heldBack`, then one byte per `trickleMs`. */
export function openSlowBodies(options: SlowClientOptions): Promise<SlowClients> {
  const { contentLength = 1024 * 1024, heldBack = 64 } = options;
  const head =
    `POST ${options.path ?? '/checkout/webhooks/stripe'} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Type: application/json\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: ${contentLength}\r\n\r\n`;
  const body = Buffer.alloc(contentLength - heldBack, 'x');
  return open(
    options,
    (socket) => {
      socket.write(head);
      socket.write(body);
    },
    (socket) => socket.write('x'),
  );
}

/** `connections` requests whose headers never end: one more header line per `trickleMs`. */
export function openSlowHeaders(options: SlowClientOptions): Promise<SlowClients> {
  return open(
    options,
    (socket) => socket.write(`POST ${options.path ?? '/checkout/webhooks/stripe'} HTTP/1.1\r\nHost: 127.0.0.1\r\n`),
    (socket) => socket.write(`X-Slow-${Math.random().toString(36).slice(2, 8)}: 1\r\n`),
  );
}

async function open(
  options: SlowClientOptions,
  start: (socket: net.Socket) => void,
  trickle: (socket: net.Socket) => void,
): Promise<SlowClients> {
  const sockets = new Set<net.Socket>();
  let closed = 0;
  let opened = 0;
  let stopping = false;
  await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: options.host ?? '127.0.0.1', port: options.port });
          sockets.add(socket);
          socket.on('error', () => {});
          socket.on('data', () => {}); // a 408/413/503 answer, if any, is read and dropped
          socket.once('close', () => {
            sockets.delete(socket);
            if (!stopping) closed += 1;
            resolve();
          });
          socket.once('connect', () => {
            opened += 1;
            start(socket);
            resolve();
          });
        }),
    ),
  );
  const timer = setInterval(() => {
    for (const socket of sockets) if (socket.writable) trickle(socket);
  }, options.trickleMs ?? 5_000);
  return {
    closed: () => closed,
    opened: () => opened,
    stop: () => {
      stopping = true;
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    },
  };
}
