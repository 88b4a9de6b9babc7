import { ConveyorError } from '../core/errors.ts';

/** 2 when the store or server cannot be reached or cannot keep writes, 1 for everything else. */
export function exitCodeFor(err: unknown): number {
  return err instanceof ConveyorError && ['CONNECTION', 'STORAGE_LOST', 'STORAGE_FULL'].includes(err.code) ? 2 : 1;
}

/** Errors go to stderr as one line; the stack only with --verbose. */
export function printError(err: unknown, verbose: boolean): void {
  const e = err instanceof Error ? err : new Error(String(err));
  process.stderr.write(`conveyor: ${e.message}\n`);
  if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
}
