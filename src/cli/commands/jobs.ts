/** Commands on single jobs: add/enqueue, submit, status, list, logs, cancel, retry, remove, promote. */
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import type { Client } from '../../client/client.ts';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { DedupeMode } from '../../core/job.ts';
import type { JobOptions } from '../../core/options.ts';
import { JOB_STATES, parseState, STATE_ALIASES } from '../../core/states.ts';
import type { JobState } from '../../core/states.ts';
import { color, didYouMean, JOB_HEADERS, jobDetail, jobRow, out, parseDuration, parseIntArg, parseJson, printJson, stateColor, table, time } from '../format.ts';
import { globals, withClient, withReader } from '../target.ts';

interface AddFlags {
  queue: string;
  name: string;
  data?: string;
  priority?: string;
  delay?: string;
  attempts?: string;
  backoff?: string;
  timeout?: string;
  jobId?: string;
  paused?: boolean;
  expiresIn?: string;
  group?: string;
  dedupeKey?: string;
  dedupeMode?: string;
  dedupeTtl?: string;
  debounceKey?: string;
  debounceDelay?: string;
}

function jobOptions(f: AddFlags): JobOptions {
  const o: JobOptions = {};
  if (f.priority !== undefined) o.priority = parseIntArg(f.priority, '--priority', -1000);
  if (f.delay !== undefined) o.delay = parseDuration(f.delay, '--delay');
  if (f.attempts !== undefined) o.attempts = parseIntArg(f.attempts, '--attempts');
  if (f.backoff !== undefined) o.backoff = parseDuration(f.backoff, '--backoff');
  if (f.timeout !== undefined) o.timeout = parseDuration(f.timeout, '--timeout');
  if (f.jobId !== undefined) o.jobId = f.jobId;
  if (f.group !== undefined) o.group = f.group;
  if (f.dedupeKey !== undefined) {
    o.dedupe = { key: f.dedupeKey, ...(f.dedupeMode === undefined ? {} : { mode: f.dedupeMode as DedupeMode }), ...(f.dedupeTtl === undefined ? {} : { ttlMs: parseDuration(f.dedupeTtl, '--dedupe-ttl') }) };
  } else if (f.dedupeMode !== undefined || f.dedupeTtl !== undefined) {
    throw new ValidationError('--dedupe-mode and --dedupe-ttl need --dedupe-key', '--dedupe-key');
  }
  if ((f.debounceKey === undefined) !== (f.debounceDelay === undefined)) {
    throw new ValidationError('--debounce-key and --debounce-delay go together (e.g. --debounce-key doc-5 --debounce-delay 2s)', '--debounce-key');
  }
  if (f.debounceKey !== undefined) o.debounce = { key: f.debounceKey, delayMs: parseDuration(f.debounceDelay!, '--debounce-delay') };
  if (f.expiresIn !== undefined) o.expiresIn = parseDuration(f.expiresIn, '--expires-in');
  if (f.paused) o.start = false;
  return o;
}

function addOptions(cmd: Command): Command {
  return cmd
    .option('-q, --queue <queue>', 'queue to add to', 'default')
    .option('-n, --name <name>', 'job name (its type)', 'item')
    .option('-d, --data <json>', 'job data as JSON (with items: merged into each item\'s data)')
    .option('--priority <n>', 'higher runs first (-1000..1000)')
    .option('--delay <duration>', 'run no earlier than this from now (e.g. 30s, 5m)')
    .option('--attempts <n>', 'total tries including the first')
    .option('--backoff <duration>', 'wait between tries')
    .option('--timeout <duration>', 'fail an attempt that runs longer')
    .option('--job-id <id>', 'your own id (adding it again is a no-op)')
    .option('--dedupe-key <key>', 'add only if no job of this queue holds the key (otherwise: the existing job, marked duplicate)')
    .option('--dedupe-mode <mode>', 'how long the key holds: unfinished (default), waiting, or window (with --dedupe-ttl)')
    .option('--dedupe-ttl <duration>', 'the key holds at most this long after the add, e.g. 10m')
    .option('--debounce-key <key>', 'trailing debounce: adding again while the job waits replaces its data and pushes its run time')
    .option('--debounce-delay <duration>', 'with --debounce-key: the job runs this long after the last add, e.g. 2s')
    .option('--group <key>', 'its group (e.g. a tenant): groups take turns, and share the queue\'s group concurrency')
    .option('--paused', 'add without starting (start later with `conveyor promote`)')
    .option('--expires-in <duration>', 'not started within this long (e.g. 10m): the job ends canceled "expired"');
}

async function addAction(items: string[], f: AddFlags, cmd: Command): Promise<void> {
  const base = f.data === undefined ? undefined : parseJson(f.data, '--data');
  if (base !== undefined && items.length > 0 && (base === null || typeof base !== 'object' || Array.isArray(base))) {
    throw new ValidationError('--data must be a JSON object when items are given', '--data');
  }
  const opts = jobOptions(f);
  if (items.length === 0 && f.data === undefined) {
    throw new ValidationError('nothing to add: give items (conveyor enqueue a.jpg b.jpg) or --data JSON (conveyor add -n welcome -d \'{"to":"ada"}\')', 'items');
  }
  if (items.length > 1 && opts.jobId) throw new ValidationError('--job-id names one job; give one item', '--job-id');
  const datas: unknown[] = items.length === 0 ? [base ?? {}] : items.map((item) => ({ ...(base as object | undefined), item }));
  await withClient(cmd, async (client, o) => {
    const results = await client.add(f.queue, datas.map((data) => ({ name: f.name, data, opts })));
    if (o.json) return printJson(results);
    results.forEach((r, i) => {
      const what = items[i] === undefined ? '' : ` ${items[i]}`;
      out(`${r.duplicate ? 'exists ' : 'enqueued'}${what} → job ${r.id} (${stateColor(r.state)}) on ${f.queue}`);
    });
  });
}

export function register(program: Command): void {
  addOptions(
    program
      .command('add')
      .alias('enqueue')
      .description('add jobs: one per item given, or one with --data')
      .argument('[items...]', 'items to enqueue; each becomes a job with data {item}'),
  )
    .addHelpText('after', `
Examples:
  $ conveyor enqueue img1.jpg img2.jpg              two jobs on queue "default"
  $ conveyor add -q emails -n welcome -d '{"to":"ada@example.com"}' --attempts 3
  $ conveyor add -q reports -n nightly --delay 1h --server http://127.0.0.1:7700`)
    .action((items: string[], f: AddFlags, cmd: Command) => addAction(items, f, cmd));

  program
    .command('submit')
    .description('submit files as one job: with --server they are uploaded (POST /queue/submit); locally the job names where they lie')
    .argument('<files...>', 'files to submit')
    .option('-q, --queue <queue>', 'queue to add to', 'images')
    .option('-n, --name <name>', 'job name (its type)', 'process-images')
    .option('-o, --option <key=value...>', 'options for the handler, e.g. -o model=u2net (the job\'s data.options)')
    .addHelpText('after', `
The job's data is {files: [{name, path, size, field}], options}, the same as an upload to
POST /queue/submit makes.

Examples:
  $ conveyor submit image1.jpg image2.jpg -o model=u2net
  $ conveyor submit scan.png -q ocr -n read-text --server http://127.0.0.1:7700`)
    .action((files: string[], f: { queue: string; name: string; option?: string[] }, cmd: Command) => {
      const options: Record<string, string> = {};
      for (const kv of f.option ?? []) {
        const at = kv.indexOf('=');
        if (at < 1) throw new ValidationError(`--option takes key=value; got "${kv}"`, '--option');
        options[kv.slice(0, at)] = kv.slice(at + 1);
      }
      for (const file of files) if (!existsSync(resolve(file))) throw new ValidationError(`file not found: ${file}`, 'files');
      return withClient(cmd, async (client, o) => {
        const r = await client.submit(f.queue, f.name, files, options);
        if (o.json) return printJson(r);
        out(`submitted ${files.length} file(s) → job ${r.id} (${stateColor(r.state)}) on ${f.queue}`);
      });
    });

  program
    .command('status')
    .description('show a job: state, progress, data, result, errors')
    .argument('<id>', 'job id')
    .addHelpText('after', '\nExample:\n  $ conveyor status 550e8400-e29b-41d4-a716-446655440000 --json')
    .action((id: string, _f: unknown, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        const job = await client.get(id);
        if (!job) throw new NotFoundError(`job ${id} not found`);
        if (o.json) return printJson(job);
        out(jobDetail(job, Boolean(o.verbose)));
      }),
    );

  program
    .command('list')
    .description('list jobs, newest first, with filters and pages')
    .option('-q, --queue <queue>', 'only this queue')
    .option('-s, --state <states>', 'only these states, comma-separated (queued, active, failed, ...; RQ and BullMQ names work too)')
    .option('-n, --name <name>', 'only this job name')
    .option('--search <text>', 'text in the job id or data')
    .option('--limit <n>', 'jobs per page', '20')
    .option('--cursor <cursor>', 'the next page (printed under the list)')
    .option('--oldest', 'oldest first')
    .addHelpText('after', '\nExamples:\n  $ conveyor list --state failed\n  $ conveyor list -q images --search cat.jpg --json')
    .action((f: { queue?: string; state?: string; name?: string; search?: string; limit: string; cursor?: string; oldest?: boolean }, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        const states = f.state?.split(',').map((s) => {
          const st = parseState(s);
          if (!st) throw new ValidationError(`unknown state "${s}"${didYouMean(s, [...JOB_STATES, ...Object.keys(STATE_ALIASES)])}; states: ${JOB_STATES.join(', ')} (also ${Object.keys(STATE_ALIASES).join(', ')})`, '--state');
          return st;
        }) as JobState[] | undefined;
        const page = await client.list({
          ...(f.queue ? { queue: f.queue } : {}),
          ...(states ? { states } : {}),
          ...(f.name ? { name: f.name } : {}),
          ...(f.search ? { text: f.search } : {}),
          limit: parseIntArg(f.limit, '--limit'),
          ...(f.cursor ? { cursor: f.cursor } : {}),
          order: f.oldest ? 'asc' : 'desc',
        });
        if (o.json) return printJson(page);
        if (page.jobs.length === 0) return out('no jobs');
        out(table(JOB_HEADERS, page.jobs.map(jobRow)));
        if (page.next) {
          // The next page needs the same filters: repeat every one that was given.
          const again = [f.queue && `-q ${quote(f.queue)}`, f.state && `--state ${quote(f.state)}`, f.name && `-n ${quote(f.name)}`, f.search && `--search ${quote(f.search)}`, f.limit !== '20' && `--limit ${f.limit}`, f.oldest && '--oldest']
            .filter(Boolean)
            .join(' ');
          out(color.dim(`more: conveyor list ${again ? `${again} ` : ''}--cursor ${page.next}`));
        }
      }),
    );

  program
    .command('logs')
    .description("print a job's log lines (stdout/stderr of process jobs, ctx.log lines)")
    .argument('<id>', 'job id')
    .option('--after <seq>', 'only lines after this sequence number', '0')
    .option('--stream <stream>', 'only stdout, stderr or log')
    .action((id: string, f: { after: string; stream?: string }, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        let lines = await client.logs(id, parseIntArg(f.after, '--after', 0));
        if (f.stream) lines = lines.filter((l) => l.stream === f.stream);
        if (o.json) return printJson(lines);
        for (const l of lines) out(`${color.dim(time(l.at))} ${l.stream === 'stderr' ? color.red(l.stream) : color.dim(l.stream)} ${l.line}`);
      }),
    );

  program
    .command('cancel')
    .alias('stop')
    .description('cancel waiting jobs or stop running ones (their handler is aborted)')
    .argument('<ids...>', 'job ids')
    .option('--reason <text>', 'why (kept as the job\'s message)', 'canceled from the CLI')
    .action((ids: string[], f: { reason: string }, cmd: Command) => eachJob(cmd, ids, 'canceled', (c, id) => c.cancel(id, f.reason)));

  program
    .command('retry')
    .description('run failed or canceled jobs again')
    .argument('[ids...]', 'job ids')
    .option('--all', 'retry every failed job of --queue')
    .option('-q, --queue <queue>', 'the queue for --all', 'default')
    .addHelpText('after', '\nExamples:\n  $ conveyor retry 550e8400-e29b-41d4-a716-446655440000\n  $ conveyor retry --all -q images')
    .action(async (ids: string[], f: { all?: boolean; queue: string }, cmd: Command) => {
      if (f.all) {
        if (ids.length) throw new ValidationError('give job ids or --all, not both', '--all');
        return withClient(cmd, async (client, o) => {
          const n = await client.retryAll(f.queue);
          if (o.json) printJson({ retried: n });
          else out(`retried ${n} failed job(s) of ${f.queue}`);
        });
      }
      if (ids.length === 0) throw new ValidationError('give job ids, or --all', 'ids');
      return eachJob(cmd, ids, 'retried', (c, id) => c.retry(id));
    });

  program
    .command('remove')
    .alias('delete')
    .description('delete jobs in any state (running ones are stopped first)')
    .argument('<ids...>', 'job ids')
    .action((ids: string[], _f: unknown, cmd: Command) => eachJob(cmd, ids, 'removed', (c, id) => c.remove(id)));

  program
    .command('promote')
    .alias('start')
    .description('run pending (added --paused) or scheduled jobs now')
    .argument('<ids...>', 'job ids')
    .action((ids: string[], _f: unknown, cmd: Command) => eachJob(cmd, ids, 'promoted', (c, id) => c.promote(id)));
}

/** Applies one change per id; reports each, and fails (exit 1) if any was refused. */
async function eachJob(cmd: Command, ids: string[], verb: string, fn: (client: Client, id: string) => Promise<unknown>): Promise<void> {
  const o = globals(cmd);
  await withClient(cmd, async (client) => {
    const results: { id: string; ok: boolean; error?: string }[] = [];
    for (const id of ids) {
      try {
        await fn(client, id);
        results.push({ id, ok: true });
      } catch (err) {
        if ((err as { code?: string }).code === 'CONNECTION') throw err;
        results.push({ id, ok: false, error: (err as Error).message });
      }
    }
    if (o.json) printJson(results);
    else {
      for (const r of results) {
        if (r.ok) out(`${verb} ${r.id}`);
        else process.stderr.write(`conveyor: ${r.error}\n`);
      }
    }
    if (results.some((r) => !r.ok)) process.exitCode = 1;
  });
}

/** A shell word as typed: quoted when it holds anything but plain characters. */
function quote(s: string): string {
  return /^[\w.,:@/-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}
