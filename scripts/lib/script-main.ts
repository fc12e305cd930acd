import { createDatabase, type Database, type Sql } from '@billing/db/client';
import type { QueueEnv } from '@billing/queue';
import { openQueue, type OpenQueue } from './queue';
import { postgresServerProblem, START_SERVICES_HINT, where } from './services';
import { UsageError } from './usage-error';

/**
 * The start and end every operator script shares (replay, backfill, explain, erase): each step
 * either gives the script what it needs or prints one line prefixed with the script's name and
 * exits — 2 for a usage mistake, 0 for --help, 1 when a service is missing or the work failed.
 */

/** `parse()`'s arguments; a `UsageError` prints its reason (if any) above `usage` and exits 2, or 0 for --help. */
export function argsOrExit<T>(name: string, usage: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (error.message) console.error(`${name}: ${error.message}\n`);
    console.error(usage);
    process.exit(error.message ? 2 : 0);
  }
}

/** The event queue, or the line saying where the queue's store was looked for and what to start, exit 1 (or `exitCode`). */
export async function queueOrExit(name: string, env: QueueEnv, exitCode = 1): Promise<OpenQueue> {
  try {
    return await openQueue(env);
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}`);
    process.exit(exitCode);
  }
}

export interface OpenDatabase {
  db: Database;
  sql: Sql;
  close: () => Promise<void>;
}

/** A database client once the Postgres server answers, or the line saying where it was looked for and what to start, exit 1 (or `exitCode`). */
export async function databaseOrExit(
  name: string,
  url: string,
  options: { max: number; applicationName: string },
  exitCode = 1,
): Promise<OpenDatabase> {
  const problem = await postgresServerProblem(url);
  if (problem) {
    console.error(`${name}: Postgres is not answering at ${where(url, 5432)} (${problem}).\n${START_SERVICES_HINT}`);
    process.exit(exitCode);
  }
  const { db, sql } = createDatabase(url, options);
  return { db, sql, close: () => sql.end({ timeout: 5 }) };
}

/** A failure of the script's work: one line, exit code 1 (2 for a `UsageError` found only then). */
export function reportFailure(name: string, error: unknown, describe = (e: Error) => e.message): void {
  console.error(`${name}: ${error instanceof Error ? describe(error) : String(error)}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
}
