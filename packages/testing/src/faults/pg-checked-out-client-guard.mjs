// WORKAROUND for a bug in the queue port, loaded into the ingress by queue-postgres-restarted only
// (NODE_OPTIONS=--import=<this file>); delete it, and its use there, once the bug is fixed.
//
// packages/queue/src/postgres/write-jobs.ts checks a client out of its pool (`pool.connect()`)
// for each batch and attaches no 'error' listener to it. node-postgres emits 'error' on a client
// whose connection drops (Postgres restarted, the network cut), even while a query is running, and
// pg-pool listens only on idle clients: the ingress dies with "Unhandled 'error' event"
// (ECONNRESET / "Connection terminated unexpectedly") instead of answering 503. This gives each
// checked-out client the listener the pool's own `pool.query()` gives it; the failed query still
// rejects, so the batch is still answered 503.
import { createRequire } from 'node:module';

const pg = createRequire(import.meta.url)('pg');
const guarded = new WeakSet();
const guard = (client) => {
  if (client && !guarded.has(client)) {
    guarded.add(client);
    client.on('error', () => {});
  }
  return client;
};
const connect = pg.Pool.prototype.connect;
pg.Pool.prototype.connect = function (callback) {
  if (typeof callback === 'function') return connect.call(this, (error, client, done) => callback(error, guard(client), done));
  return connect.call(this).then(guard);
};
