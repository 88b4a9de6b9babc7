/** `conveyor schedule add|list|remove|pause|resume`: recurring jobs by cron or interval. */
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.ts';
import type { JobOptions } from '../../core/options.ts';
import type { Schedule, ScheduleSpec } from '../../core/schedule.ts';
import { upcoming } from '../../engine/schedule.ts';
import { color, out, parseDuration, parseIntArg, parseJson, printJson, table } from '../format.ts';
import { withClient, withReader } from '../target.ts';

interface AddFlags {
  queue: string;
  name: string;
  cron?: string;
  tz?: string;
  every?: string;
  data?: string;
  opts?: string;
  startAt?: string;
  endAt?: string;
  limit?: string;
  overlap?: string;
  catchUp?: string;
  paused?: boolean;
}

function when(text: string, field: string): number {
  const t = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(t)) throw new ValidationError(`${field} must be a date and time (ISO 8601, e.g. 2026-12-01T09:00:00Z) or ms since the epoch; got "${text}"`, field);
  return t;
}

/** A run time as the schedule's zone reads it, e.g. "Mon 2026-12-07 09:00 Europe/Berlin". */
export function inZone(ms: number, tz: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const seconds = parts.second === '00' ? '' : `:${parts.second}`;
  return `${parts.weekday} ${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}${seconds} ${tz}`;
}

function describeTiming(s: Schedule): string {
  return s.cron !== null ? `cron "${s.cron}"${s.tz === 'UTC' ? '' : ` ${s.tz}`}` : `every ${s.every! % 1000 === 0 ? `${s.every! / 1000}s` : `${s.every}ms`}`;
}

function state(s: Schedule): string {
  if (s.paused) return color.yellow('paused');
  if (s.nextRunAt === null) return color.dim('ended');
  return color.green('active');
}

const QUEUE_OPT = ['-q, --queue <queue>', 'the queue the jobs go to', 'default'] as const;

export function register(program: Command): void {
  const cmd = program
    .command('schedule')
    .description('recurring jobs: by cron expression (in a time zone) or every N seconds; one job per run however many processes run')
    .addHelpText('after', `
Examples:
  $ conveyor schedule add nightly --name cleanup --cron "0 3 * * *" --tz Europe/Berlin
  $ conveyor schedule add heartbeat --name ping --every 30s --overlap skip -q monitoring
  $ conveyor schedule add weekday-report --name report --cron "0 9 * * 1-5" --tz America/New_York --data '{"kind":"daily"}'
  $ conveyor schedule list                      every schedule, with its next 3 runs in its time zone
  $ conveyor schedule pause nightly             (and resume, remove)

Runs happen while some process does upkeep: conveyor serve, or any conveyor worker.`);

  cmd
    .command('add')
    .description('create or replace a schedule (progress is kept when only data or options change)')
    .argument('<id>', 'schedule id, unique in its queue')
    .option(...QUEUE_OPT)
    .requiredOption('-n, --name <name>', 'the job name each run adds')
    .option('--cron <expr>', 'cron expression: 5 fields (minute hour day month weekday) or 6 (seconds first)')
    .option('--tz <zone>', 'IANA time zone of the cron expression (default UTC)')
    .option('--every <duration>', 'run every this long: 30s, 5m, 1h (at least 1s)')
    .option('-d, --data <json>', 'data of each job, as JSON')
    .option('--opts <json>', 'job options of each run, as JSON (e.g. {"attempts":3})')
    .option('--start-at <time>', 'no run before this time (ISO 8601)')
    .option('--end-at <time>', 'no run after this time (ISO 8601)')
    .option('--limit <n>', 'runs in all')
    .option('--overlap <policy>', 'allow (default), or skip a run while the previous job is unfinished')
    .option('--catch-up <policy>', 'runs missed while nothing ran: none, one (default) or all')
    .option('--paused', 'create it paused')
    .action((id: string, f: AddFlags, c: Command) =>
      withClient(c, async (client, o) => {
        const spec: ScheduleSpec = {
          name: f.name,
          ...(f.cron === undefined ? {} : { cron: f.cron }),
          ...(f.tz === undefined ? {} : { tz: f.tz }),
          ...(f.every === undefined ? {} : { every: parseDuration(f.every, '--every') }),
          ...(f.data === undefined ? {} : { data: parseJson(f.data, '--data') }),
          ...(f.opts === undefined ? {} : { opts: parseJson(f.opts, '--opts') as JobOptions }),
          ...(f.startAt === undefined ? {} : { startAt: when(f.startAt, '--start-at') }),
          ...(f.endAt === undefined ? {} : { endAt: when(f.endAt, '--end-at') }),
          ...(f.limit === undefined ? {} : { limit: parseIntArg(f.limit, '--limit') }),
          ...(f.overlap === undefined ? {} : { overlap: f.overlap as ScheduleSpec['overlap'] }),
          ...(f.catchUp === undefined ? {} : { catchUp: f.catchUp as ScheduleSpec['catchUp'] }),
          ...(f.paused ? { paused: true } : {}),
        };
        const s = await client.schedule(f.queue, id, spec);
        if (o.json) return printJson(s);
        out(`scheduled ${s.id} on ${s.queue}: ${describeTiming(s)} → "${s.name}" jobs${s.paused ? color.yellow(' (paused)') : ''}`);
        for (const t of upcoming(s, 3)) out(`  next: ${inZone(t, s.tz)}`);
      }),
    );

  cmd
    .command('list')
    .description('schedules with their next 3 runs (in the schedule\'s time zone), runs, skips and state')
    .argument('[queue]', 'only this queue\'s schedules')
    .action((queue: string | undefined, _f: unknown, c: Command) =>
      withReader(c, async (client, o) => {
        const list = await client.schedules(queue);
        if (o.json) return printJson(list.map((s) => ({ ...s, upcoming: s.paused ? [] : upcoming(s, 3) })));
        if (list.length === 0) return out(color.dim(`no schedules${queue ? ` on ${queue}` : ''}`));
        out(
          table(
            ['QUEUE', 'ID', 'WHEN', 'JOB', 'STATE', 'RUNS', 'SKIPS', 'NEXT RUNS'],
            list.map((s) => [
              s.queue,
              s.id,
              describeTiming(s),
              s.name,
              state(s),
              String(s.runs) + (s.limit === null ? '' : `/${s.limit}`),
              String(s.skips),
              s.paused ? '-' : upcoming(s, 3).map((t) => inZone(t, s.tz)).join(', ') || '-',
            ]),
          ),
        );
      }),
    );

  cmd
    .command('remove')
    .alias('rm')
    .description('remove a schedule (jobs it already added stay)')
    .argument('<id>', 'schedule id')
    .option(...QUEUE_OPT)
    .action((id: string, f: { queue: string }, c: Command) =>
      withClient(c, async (client, o) => {
        await client.unschedule(f.queue, id);
        if (o.json) return printJson({ id, queue: f.queue, removed: true });
        out(`removed schedule ${id} from ${f.queue}`);
      }),
    );

  for (const action of ['pause', 'resume'] as const) {
    cmd
      .command(action)
      .description(action === 'pause' ? 'stop a schedule\'s runs until resumed' : 'resume a paused schedule from its next run (missed runs are not made up)')
      .argument('<id>', 'schedule id')
      .option(...QUEUE_OPT)
      .action((id: string, f: { queue: string }, c: Command) =>
        withClient(c, async (client, o) => {
          const s = action === 'pause' ? await client.pauseSchedule(f.queue, id) : await client.resumeSchedule(f.queue, id);
          if (o.json) return printJson(s);
          out(`${action === 'pause' ? 'paused' : 'resumed'} schedule ${id} on ${f.queue}${s.nextRunAt !== null && !s.paused ? `; next run ${inZone(s.nextRunAt, s.tz)}` : ''}`);
        }),
      );
  }
}
