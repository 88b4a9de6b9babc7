#!/usr/bin/env node
/**
 * The `conveyor` command. Each command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only assembles them and maps errors to exit codes:
 * 0 ok, 1 bad usage or a refused operation, 2 cannot connect.
 */
import { CommanderError } from 'commander';
import { buildProgram } from './program.ts';
import { exitCodeFor, printError } from './output.ts';

export async function main(argv = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; usage mistakes exit 1 (commander already printed why).
      process.exitCode = err.exitCode === 0 ? 0 : 1;
      return;
    }
    printError(err, Boolean(program.opts().verbose));
    process.exitCode = exitCodeFor(err);
  }
}

// A reader that stops early (`conveyor list | head`) closes the pipe: stop quietly, as
// Unix tools do, instead of dying on an unhandled EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(0);
});

await main();
