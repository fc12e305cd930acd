import { startLocalPostgres } from '../src/index';

// A process that owns a local Postgres, for the tests: `owner.ts <home> <password> [hold|exit]`.
// Prints one JSON line ({pid, url}) once the server is up; then `hold` keeps it until SIGTERM
// (which stops it cleanly), `exit` calls process.exit(0) without stop().
const [home, password, mode = 'hold'] = process.argv.slice(2);
try {
  const pg = await startLocalPostgres({ home: home!, password: password! });
  console.log(JSON.stringify({ pid: pg.pid, url: pg.url }));
  if (mode === 'exit') process.exit(0);
  const keepAlive = setInterval(() => {}, 60_000);
  process.once('SIGTERM', () => {
    clearInterval(keepAlive);
    void pg.stop();
  });
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
