export { LocalPostgresError } from './errors';
export { startLocalPostgres, stopIfAbandoned, type LocalPostgres, type LocalPostgresOptions } from './local-postgres';
export { processAlive, processStartTime, sameProcess, signal, waitForExit } from './processes';
