import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './usage-error';

type Options = NonNullable<ParseArgsConfig['options']>;
const HELP = { help: { type: 'boolean', short: 'h' } } as const;
type Config<O extends Options> = { args: string[]; options: O & typeof HELP; strict: true; allowPositionals: false };

/**
 * A script's `--flags` (no positionals, unknown ones refused), each mistake a `UsageError` with
 * node's own message; `--help`/`-h` is a `UsageError` without one (the script prints its usage).
 */
export function parseFlags<const O extends Options>(argv: string[], options: O) {
  const config: Config<O> = { args: argv, options: { ...options, ...HELP }, strict: true, allowPositionals: false };
  let values;
  try {
    ({ values } = parseArgs(config));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if ((values as { help?: boolean }).help) throw new UsageError('');
  return values;
}
