/** `conveyor watch <id>`: a live progress bar until the job ends; the exit code tells how it ended. */
import type { Command } from 'commander';
import { NotFoundError } from '../../core/errors.ts';
import type { Job } from '../../core/job.ts';
import { isFinished } from '../../core/states.ts';
import { bar, color, out, printJson, stateColor } from '../format.ts';
import { parseDuration } from '../format.ts';
import { withReader } from '../target.ts';

function render(job: Job): string {
  const msg = job.message ? ` ${job.message}` : '';
  return `${bar(job.progress / 100, 30)} ${String(Math.round(job.progress)).padStart(3)}% ${stateColor(job.state)}${msg}`;
}

export function register(program: Command): void {
  program
    .command('watch')
    .alias('monitor')
    .description('follow a job until it ends: progress bar and message; exit 0 if it completed, 1 if not')
    .argument('<id>', 'job id')
    .option('--every <duration>', 'how often to look', '250ms')
    .addHelpText('after', '\nExamples:\n  $ conveyor watch 550e8400-e29b-41d4-a716-446655440000\n  $ conveyor monitor $ID --server http://127.0.0.1:7700')
    .action((id: string, f: { every: string }, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        const every = Math.max(20, parseDuration(f.every, '--every'));
        const tty = Boolean(process.stdout.isTTY) && !o.json;
        let last = '';
        for (;;) {
          const job = await client.get(id);
          if (!job) throw new NotFoundError(`job ${id} not found`);
          const line = render(job);
          if (line !== last) {
            if (o.json) printJson({ id: job.id, state: job.state, progress: job.progress, message: job.message });
            else if (tty) process.stdout.write(`\r\x1b[2K${line}`);
            else out(line);
            last = line;
          }
          if (isFinished(job.state)) {
            if (tty) process.stdout.write('\n');
            if (!o.json) {
              if (job.state === 'completed') out(color.green(`job ${id} completed${job.result === null ? '' : `: ${JSON.stringify(job.result)}`}`));
              else out(color.red(`job ${id} ${job.state}${job.errors.length ? `: ${job.errors[job.errors.length - 1].message}` : job.message ? `: ${job.message}` : ''}`));
            }
            process.exitCode = job.state === 'completed' ? 0 : 1;
            return;
          }
          await new Promise((r) => setTimeout(r, every));
        }
      }),
    );
}
