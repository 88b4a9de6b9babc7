import type { Command } from 'commander';

/** Placeholder until the server lands: the server issue owns this file. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('start the Conveyor server (HTTP API, JSON-RPC, dashboard)')
    .action(() => {
      throw new Error('conveyor serve is not built yet');
    });
}
