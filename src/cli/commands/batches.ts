/** Batches: add jobs with a callback that runs once all of them finished, and show a batch's progress. */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { NewJobSpec } from '../../client/client.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { out, parseJson, printJson } from '../format.ts';
import { withClient } from '../target.ts';

interface BatchFlags {
  queue: string;
  name: string;
  jobs?: string;
  onComplete: string;
  onCompleteData?: string;
  onCompleteQueue?: string;
}

/** The members: one per item (data {item}), or the JSON array of {name, data, opts} in --jobs. */
function members(items: string[], f: BatchFlags): NewJobSpec[] {
  if (f.jobs !== undefined) {
    if (items.length > 0) throw new ValidationError('give items or --jobs, not both', '--jobs');
    const text = f.jobs === '-' ? readFileSync(0, 'utf8') : readFileSync(f.jobs, 'utf8');
    const list = parseJson(text, '--jobs');
    if (!Array.isArray(list)) throw new ValidationError('--jobs must hold a JSON array of {name, data, opts}', '--jobs');
    return list as NewJobSpec[];
  }
  if (items.length === 0) throw new ValidationError('give the items of the batch, or --jobs FILE', 'items');
  return items.map((item) => ({ name: f.name, data: { item } }));
}

export function register(program: Command): void {
  const batch = program.command('batch').description('jobs that run together, with one callback job once all of them finished');

  batch
    .command('add')
    .description('add a batch: one job per item (or --jobs FILE), plus the --on-complete job')
    .argument('[items...]', 'items; each becomes a job with data {item}')
    .option('-q, --queue <queue>', 'queue of the jobs', 'default')
    .option('-n, --name <name>', 'job name (its type) for items', 'default')
    .option('--jobs <file>', 'a JSON array of {name, data, opts} ("-" reads stdin)')
    .requiredOption('--on-complete <name>', 'the job to run once every job of the batch finished')
    .option('--on-complete-data <json>', "that job's data (an object; it receives a batch field)")
    .option('--on-complete-queue <queue>', "that job's queue (default: the batch's)")
    .addHelpText('after', `
The callback's handler finds the outcome in job.data.batch: {id, total, completed: [ids],
failed: [ids], canceled: [ids], pending, missing, done}.

Examples:
  $ conveyor batch add a.jpg b.jpg c.jpg -q images -n resize --on-complete album-ready
  $ conveyor batch add --jobs jobs.json -q emails --on-complete report --on-complete-data '{"campaign":7}'`)
    .action((items: string[], f: BatchFlags, cmd: Command) =>
      withClient(cmd, async (client, o) => {
        const data = f.onCompleteData === undefined ? undefined : parseJson(f.onCompleteData, '--on-complete-data');
        const added = await client.addBatch(f.queue, members(items, f), {
          name: f.onComplete,
          ...(data === undefined ? {} : { data: data as Record<string, unknown> }),
          ...(f.onCompleteQueue === undefined ? {} : { queue: f.onCompleteQueue }),
        });
        if (o.json) return printJson(added);
        out(`batch ${added.id}: ${added.jobs.length} job(s) on ${f.queue}; ${f.onComplete} runs when all finished`);
      }),
    );

  batch
    .command('show')
    .description("a batch's progress: its jobs' ids per outcome")
    .argument('<id>', "the batch's id (its callback job's id)")
    .action((id: string, _f: unknown, cmd: Command) =>
      withClient(cmd, async (client, o) => {
        const s = await client.getBatch(id);
        if (!s) throw new NotFoundError(`batch ${id} not found`);
        if (o.json) return printJson(s);
        out(`batch ${s.id}: ${s.total} job(s), ${s.done ? 'all finished' : `${s.pending.length} not finished`}; callback ${s.callbackState}`);
        out(`  completed ${s.completed.length}  failed ${s.failed.length}  canceled ${s.canceled.length}${s.missing.length ? `  missing ${s.missing.length}` : ''}`);
      }),
    );
}
