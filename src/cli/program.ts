/** The `conveyor` command tree, built without running it (main.ts runs it; tests read its help). */
import { Command } from 'commander';
import { register as registerJobs } from './commands/jobs.ts';
import { register as registerBatches } from './commands/batches.ts';
import { register as registerMigrate } from './commands/migrate.ts';
import { register as registerQueues } from './commands/queues.ts';
import { register as registerSchedules } from './commands/schedules.ts';
import { register as registerServe } from './commands/serve.ts';
import { register as registerWatch } from './commands/watch.ts';
import { register as registerWorker } from './commands/worker.ts';
import { addGlobalOptions } from './target.ts';

export function buildProgram(): Command {
  const program = addGlobalOptions(new Command('conveyor'))
    .description('Conveyor: a fast job queue for TypeScript (embedded SQLite, Redis, HTTP API, dashboard)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText('after', `
Targets (every command): --db FILE (default ./conveyor.db), --redis URL, --postgres URL, or --server URL --token T.

Examples:
  $ conveyor serve                          start the server and dashboard on http://127.0.0.1:7700
  $ conveyor enqueue img1.jpg img2.jpg      add two jobs to queue "default"
  $ conveyor worker --handlers ./jobs.ts    run them
  $ conveyor watch <id>                     follow one to the end
  $ conveyor list --state failed            then: conveyor retry <id>, conveyor clean default`);
  registerServe(program);
  registerWorker(program);
  registerJobs(program);
  registerBatches(program);
  registerWatch(program);
  registerQueues(program);
  registerSchedules(program);
  registerMigrate(program);
  return program;
}

