import net from 'node:net';

/**
 * Whether Redis answers PING at `url` (AUTH first when the URL has a password): `undefined` when
 * it does, otherwise a one-line reason such as `ECONNREFUSED` or `NOAUTH Authentication required.`
 * A raw socket rather than a client, so there are no reconnect attempts to wait out.
 */
export function redisProblem(url: string, timeoutMs = 2_000): Promise<string | undefined> {
  const { hostname, port, password, username } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || 6379) });
    const done = (problem: string | undefined) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.once('connect', () => {
      const credentials = [...(username ? [decodeURIComponent(username)] : []), decodeURIComponent(password)];
      socket.write(`${password ? command('AUTH', ...credentials) : ''}${command('PING')}`);
    });
    let seen = '';
    socket.on('data', (data) => {
      seen += data.toString();
      const error = seen.split('\r\n').find((line) => line.startsWith('-'));
      if (error) done(error.slice(1));
      else if (seen.includes('+PONG')) done(undefined);
    });
  });
}

/** A command as a RESP array, so arguments may hold spaces or quotes (inline commands split on them). */
function command(...args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}
