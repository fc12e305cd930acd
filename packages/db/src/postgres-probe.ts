import postgres from 'postgres';

/**
 * Whether a Postgres server answers `select 1` at `url`: `undefined` when it does, otherwise a
 * one-line reason (the server's code and message, or the socket error). One connection, no retries.
 */
export async function postgresProblem(url: string, timeoutSeconds = 3): Promise<string | undefined> {
  const sql = postgres(url, { max: 1, connect_timeout: timeoutSeconds, onnotice: () => {} });
  try {
    await sql`select 1`;
    return undefined;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    return `${code ?? ''} ${message ?? String(error)}`.trim().split('\n')[0];
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}
