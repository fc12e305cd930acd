/** A script was called wrongly: its message (if any) and the usage are printed, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
