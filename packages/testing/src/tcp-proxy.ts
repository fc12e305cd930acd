import net from 'node:net';

export interface TcpProxy {
  port: number;
  /**
   * Drops every open connection and refuses new ones, as a dead server would: by default each new
   * connection is accepted and closed at once (the peer sees a reset); with `refuse`, the port stops
   * listening, so connecting fails with ECONNREFUSED, as with a server that is not running (a restart).
   */
  cut: (options?: { refuse?: boolean }) => void;
  /** Accepts connections again (on the same port, listening again after a `refuse` cut). */
  restore: () => Promise<void>;
  /** Changes the added latency (ms) of each direction from now on; bytes already held keep their order. */
  setDelay: (delay: ProxyDelay) => void;
  /** Holds what clients send, connections open, as a server that stops answering would… */
  freeze: () => void;
  /** …and sends it on, in order. */
  thaw: () => void;
  close: () => Promise<void>;
}

/** Latency added to what the server sends (`toClientMs`) and what the client sends (`toServerMs`). */
export interface ProxyDelay {
  toClientMs?: number;
  toServerMs?: number;
}

/**
 * A TCP proxy on 127.0.0.1 in front of `target`, which a test can cut to simulate an outage,
 * or slow down (each chunk held `delay` ms, order kept) to simulate a lagging link, such as a
 * replica's replication stream.
 */
export async function startTcpProxy(target: { host: string; port: number }, options: { delay?: ProxyDelay } = {}): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let open = true;
  let delay: Required<ProxyDelay> = { toClientMs: 0, toServerMs: 0, ...options.delay };
  let frozen = false;
  const thawers = new Set<() => void>();
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    forward(client, upstream, () => (frozen ? Infinity : delay.toServerMs), thawers);
    forward(upstream, client, () => delay.toClientMs, thawers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    cut: (cutOptions = {}) => {
      open = false;
      for (const socket of sockets) socket.destroy();
      if (cutOptions.refuse && server.listening) server.close();
    },
    restore: async () => {
      if (!server.listening) {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
      }
      open = true;
    },
    setDelay: (next) => {
      delay = { ...delay, ...next };
    },
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const thaw of thawers) thaw();
    },
    close: () =>
      new Promise((resolve) => {
        open = false;
        for (const socket of sockets) socket.destroy();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}

/**
 * Copies `from` to `to`, each chunk no sooner than `delayMs()` after it arrived and never before
 * an earlier one; an infinite delay holds chunks until a thaw (registered in `thawers`) sends them.
 */
function forward(from: net.Socket, to: net.Socket, delayMs: () => number, thawers: Set<() => void>): void {
  const held: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (held.length > 0 && (held[0]?.due ?? 0) <= now) {
      const { chunk } = held.shift() as { chunk: Buffer };
      if (!to.destroyed) to.write(chunk);
    }
    const next = held[0]?.due;
    if (next === Infinity) return; // frozen: the thaw drains
    if (next !== undefined) timer = setTimeout(drain, Math.max(0, next - now));
    else if (ended && !to.destroyed) to.end();
  };
  const thaw = () => {
    for (const entry of held) if (entry.due === Infinity) entry.due = 0;
    if (timer) clearTimeout(timer);
    drain();
  };
  thawers.add(thaw);
  from.on('data', (chunk: Buffer) => {
    const ms = delayMs();
    if (ms === Infinity) {
      held.push({ due: Infinity, chunk });
      return;
    }
    if (ms <= 0 && held.length === 0) {
      to.write(chunk);
      return;
    }
    const due = Math.max(performance.now() + ms, held.at(-1)?.due ?? 0);
    held.push({ due, chunk });
    if (held[0]?.due !== Infinity) timer ??= setTimeout(drain, Math.max(0, due - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (held.length === 0 && !to.destroyed) to.end();
  });
  // A side that goes away (a SIGKILLed client, a crashed server) loses what the link still held
  // from it (delayed or frozen), and the other side sees the connection drop, as it would a dead
  // peer's — never a connection left open (a Postgres session idle in its transaction, holding its
  // locks, for instance). After a clean end with nothing held, `end` has already closed it.
  from.on('close', () => {
    if (timer) clearTimeout(timer);
    const dropped = held.length > 0;
    held.length = 0;
    thawers.delete(thaw);
    if (dropped) to.destroy();
  });
}
