/**
 * Run as its own process (`node --import tsx`, argv[2] = a database URL): opens the worker's
 * database client through a TCP proxy, starts a transaction the way the worker does
 * (`db.transaction`), drops the connection in the middle of it, and reports on stdout whether
 * the failure came back as a rejected promise (`rejected: …`) and the process survived (`survived`).
 * A driver that throws from a timer instead kills the process (exit code 1, no `survived`).
 */
import net from 'node:net';
import { createDatabase } from '@billing/db/client';
import { sql as raw } from 'drizzle-orm';

const target = new URL(process.argv[2] ?? '');
const sockets = new Set<net.Socket>();
const proxy = net.createServer((client) => {
  const upstream = net.connect({ host: target.hostname, port: Number(target.port || 5432) });
  for (const socket of [client, upstream]) {
    sockets.add(socket);
    socket.on('error', () => {
      client.destroy();
      upstream.destroy();
    });
  }
  client.pipe(upstream).pipe(client);
});
await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const viaProxy = new URL(target);
viaProxy.host = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;

const { db, sql } = createDatabase(viaProxy.toString(), { max: 2, applicationName: 'fault-transaction-drop' });
try {
  await db.transaction(async (tx) => {
    await tx.execute(raw`select 1`);
    for (const socket of sockets) socket.destroy(); // Postgres goes away mid-transaction
    await tx.execute(raw`select 2`);
  });
  console.log('committed');
} catch (error) {
  console.log(`rejected: ${(error as Error).message}`);
}
await new Promise((resolve) => setTimeout(resolve, 500)); // let any deferred write fire
console.log('survived');
await sql.end({ timeout: 1 }).catch(() => {});
proxy.close();
process.exit(0);
