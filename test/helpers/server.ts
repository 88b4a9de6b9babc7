/** Starts the real `conveyor serve` as a subprocess on a free port and gives its URL. */
import { spawnTs, type Proc } from './procs.ts';
import { CLI } from './cli.ts';

export interface ServeProc extends Proc {
  url: string;
}

export async function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProc> {
  const p = spawnTs(CLI, ['serve', '--listen', '0', '--quiet', ...args], env);
  const line = await p.waitFor(/^Conveyor listening on /, 20_000);
  return Object.assign(p, { url: line.replace('Conveyor listening on ', '').trim() });
}
