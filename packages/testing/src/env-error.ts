import { EnvError } from '@billing/runtime/env';
import { expect } from 'vitest';

/** The message of the `EnvError` that `load` throws (the lines a process prints before it stops); fails the test if it throws none. */
export function envErrorMessage(load: () => unknown): string {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvError);
    return (error as Error).message;
  }
  throw new Error('expected an EnvError');
}
