/** Commands on queues: stats, info, pause, resume, configure, clean, drain. */
import type { Command } from 'commander';
import type { Client } from '../../client/client.ts';
import { ValidationError } from '../../core/errors.ts';
import type { QueueConfig } from '../../core/queue-config.ts';
import { parseState } from '../../core/states.ts';
import { JOB_STATES } from '../../core/states.ts';
import { bar, color, countsLine, out, parseDuration, parseIntArg, printJson, table, time } from '../format.ts';
import { withClient, withReader } from '../target.ts';

async function renderInfo(client: Client, json: boolean): Promise<void> {
  const [queues, workers] = await Promise.all([client.queues(), client.workers()]);
  if (json) return printJson({ queues, workers });
  const waitingOf = (q: (typeof queues)[number]) => q.counts.queued + q.counts.scheduled + q.counts.deferred + q.counts.pending;
  // Log scale: a queue of 20 next to one of 20,000 still shows a bar.
  const max = Math.log10(1 + Math.max(1, ...queues.map(waitingOf)));
  out(`${color.bold(`Queues (${queues.length})`)}  ${color.dim('bars: waiting jobs (queued, scheduled, deferred, pending), log scale')}`);
  for (const q of queues) {
    const waiting = waitingOf(q);
    const label = `${q.name}${q.config.paused ? color.yellow(' (paused)') : ''}`;
    out(`${label.padEnd(24)} ${bar(Math.log10(1 + waiting) / max, 30)} ${String(waiting).padStart(7)} waiting  ${countsLine(q.counts)}`);
  }
  out(color.dim(`updated ${time(Date.now())}`));
  out();
  out(color.bold(`Workers (${workers.length})`));
  if (workers.length === 0) return out(color.dim('no workers'));
  out(
    table(
      ['NAME', 'HOST', 'PID', 'STATE', 'QUEUES', 'CURRENT JOBS', 'PROCESSED', 'FAILED', 'LAST SEEN'],
      workers.map((w) => [
        w.name,
        w.host,
        String(w.pid),
        w.active.length > 0 ? color.cyan('busy') : 'idle',
        w.queues.join(','),
        // Ids end in their random part; time-ordered ids share their start.
        w.active.slice(0, 3).map((id) => `…${id.slice(-8)}`).join(',') + (w.active.length > 3 ? `,+${w.active.length - 3}` : ''),
        String(w.processed),
        String(w.failed),
        time(w.lastSeen),
      ]),
    ),
  );
}

/** The settings a `configure` command line asks for ("none" clears one). */
function settingsFrom(f: Record<string, string | undefined>): Partial<QueueConfig> {
  const p: Partial<QueueConfig> = {};
  const none = (v: string) => v.trim().toLowerCase() === 'none';
  const int = (v: string, flag: string) => (none(v) ? null : parseIntArg(v, flag));
  const dur = (v: string, flag: string) => (none(v) ? null : parseDuration(v, flag));
  if (f.concurrency !== undefined) p.concurrency = int(f.concurrency, '--concurrency');
  if (f.groupConcurrency !== undefined) p.groupConcurrency = int(f.groupConcurrency, '--group-concurrency');
  if (f.maxSize !== undefined) p.maxSize = int(f.maxSize, '--max-size');
  if (f.overflow !== undefined) p.overflow = f.overflow as QueueConfig['overflow'];
  if (f.resultTtl !== undefined) p.resultTtlMs = dur(f.resultTtl, '--result-ttl');
  if (f.failureTtl !== undefined) p.failureTtlMs = dur(f.failureTtl, '--failure-ttl');
  if (f.deadLetter !== undefined) p.deadLetter = none(f.deadLetter) ? null : f.deadLetter;
  const rate = (v: string, flag: string) => {
    if (none(v)) return null;
    const m = /^(\d+)\/(.+)$/.exec(v.trim());
    if (!m) throw new ValidationError(`${flag} must be max/window, e.g. 10/1s; got "${v}"`, flag);
    return { max: parseIntArg(m[1], flag), durationMs: parseDuration(m[2], flag) };
  };
  if (f.rateLimit !== undefined) p.rateLimit = rate(f.rateLimit, '--rate-limit');
  if (f.groupRateLimit !== undefined) p.groupRateLimit = rate(f.groupRateLimit, '--group-rate-limit');
  if (f.groupWeights !== undefined) {
    const weights: Record<string, number> = {};
    if (!none(f.groupWeights)) {
      for (const part of f.groupWeights.split(',')) {
        const m = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(part);
        if (!m) throw new ValidationError(`--group-weights must be group=weight pairs, e.g. gold=3,silver=2; got "${f.groupWeights}"`, '--group-weights');
        weights[m[1]] = parseIntArg(m[2], '--group-weights');
      }
    }
    p.groupWeights = weights;
  }
  return p;
}

export function register(program: Command): void {
  program
    .command('stats')
    .description('counts per state for every queue, and totals')
    .action((_f: unknown, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        const s = await client.stats();
        if (o.json) return printJson(s);
        const names = Object.keys(s.queues).sort();
        out(table(['QUEUE', ...JOB_STATES.map((st) => st.toUpperCase())], [...names.map((n) => [n, ...JOB_STATES.map((st) => String(s.queues[n][st]))]), [color.bold('total'), ...JOB_STATES.map((st) => color.bold(String(s.totals[st])))]]));
        out(`workers: ${s.workers}`);
      }),
    );

  program
    .command('info')
    .description('queues as a bar chart, and the workers (RQ\'s `rq info`)')
    .option('--interval <seconds>', 'refresh every N seconds until Ctrl-C')
    .addHelpText('after', '\nExamples:\n  $ conveyor info\n  $ conveyor info --interval 2 --redis redis://127.0.0.1:6379')
    .action((f: { interval?: string }, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        if (f.interval === undefined) return renderInfo(client, Boolean(o.json));
        const every = Number(f.interval);
        if (!(every > 0)) throw new ValidationError(`--interval must be a number of seconds > 0; got "${f.interval}"`, '--interval');
        const stop = new Promise<void>((r) => process.once('SIGINT', () => r()));
        for (let stopped = false; !stopped; ) {
          if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
          await renderInfo(client, Boolean(o.json));
          stopped = await Promise.race([stop.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), every * 1000))]);
        }
      }),
    );

  for (const [name, verb] of [['pause', 'paused'], ['resume', 'resumed']] as const) {
    program
      .command(name)
      .description(`${name} a queue: ${name === 'pause' ? 'workers take no new jobs from it' : 'workers take its jobs again'}`)
      .argument('<queue>', 'queue name')
      .action((queue: string, _f: unknown, cmd: Command) =>
        withClient(cmd, async (client, o) => {
          const config = await client[name](queue);
          if (o.json) printJson(config);
          else out(`${verb} ${queue}`);
        }),
      );
  }

  program
    .command('groups')
    .description("a queue's groups (tenants) with ready and running jobs, most ready first")
    .argument('<queue>', 'queue name')
    .option('--limit <n>', 'at most this many groups', '50')
    .addHelpText('after', '\nExamples:\n  $ conveyor groups reports\n  $ conveyor groups reports --limit 10 --json')
    .action((queue: string, f: { limit: string }, cmd: Command) =>
      withReader(cmd, async (client, o) => {
        const page = await client.groups(queue, parseIntArg(f.limit, '--limit'));
        if (o.json) return printJson(page);
        if (page.groups.length === 0) return out(`no groups with ready or running jobs in ${queue}`);
        out(table(['GROUP', 'READY', 'RUNNING'], page.groups.map((g) => [g.group, String(g.queued), String(g.active)])));
        if (page.sampled) out(color.dim('counted from the first 10,000 jobs of each state'));
      }),
    );

  program
    .command('configure')
    .description("show or change a queue's settings (limits, retention, dead-letter queue); \"none\" clears one")
    .argument('<queue>', 'queue name')
    .option('--concurrency <n>', 'most jobs of the queue active at once, across all workers')
    .option('--group-concurrency <n>', 'most active jobs per group key')
    .option('--max-size <n>', 'most unfinished jobs (waiting + active)')
    .option('--overflow <policy>', 'when the queue is full: reject or evict-oldest')
    .option('--rate-limit <max/window>', 'at most max starts per window, e.g. 10/1s')
    .option('--group-weights <group=weight,...>', 'fair-share weights: a group of weight w gets w jobs per round (default 1), e.g. gold=3,silver=2')
    .option('--group-rate-limit <max/window>', 'at most max starts per window for each group (e.g. per tenant), e.g. 5/1s')
    .option('--result-ttl <duration>', 'keep completed jobs this long, e.g. 1h')
    .option('--failure-ttl <duration>', 'keep failed and canceled jobs this long, e.g. 7d')
    .option('--dead-letter <queue>', 'move jobs that fail for good to this queue')
    .addHelpText('after', '\nExamples:\n  $ conveyor configure emails\n  $ conveyor configure emails --dead-letter emails-dead --failure-ttl 30d\n  $ conveyor configure api-calls --rate-limit 10/1s --concurrency 4\n  $ conveyor configure reports --group-rate-limit 5/1s --group-concurrency 2\n  $ conveyor configure emails --dead-letter none')
    .action((queue: string, f: Record<string, string | undefined>, cmd: Command) =>
      withClient(cmd, async (client, o) => {
        const config = await client.configure(queue, settingsFrom(f));
        if (o.json) return printJson(config);
        out(table(['SETTING', 'VALUE'], Object.entries(config).map(([k, v]) => [k, v === null ? color.dim('none') : typeof v === 'object' ? JSON.stringify(v) : String(v)])));
      }),
    );

  program
    .command('clean')
    .description('remove finished jobs of a queue by state and age')
    .argument('<queue>', 'queue name')
    .option('-s, --state <states>', 'states to remove, comma-separated', 'completed,failed,canceled')
    .option('--older-than <duration>', 'only jobs finished at least this long ago (e.g. 1h, 7d)', '0')
    .option('--limit <n>', 'remove at most this many')
    .addHelpText('after', '\nExamples:\n  $ conveyor clean images --state completed --older-than 1h\n  $ conveyor clean default --state failed')
    .action((queue: string, f: { state: string; olderThan: string; limit?: string }, cmd: Command) =>
      withClient(cmd, async (client, o) => {
        const states = f.state.split(',').map((s) => {
          const st = parseState(s);
          if (!st) throw new ValidationError(`unknown state "${s}"`, '--state');
          return st;
        });
        const removed = await client.clean(queue, {
          states,
          olderThan: parseDuration(f.olderThan, '--older-than'),
          ...(f.limit === undefined ? {} : { limit: parseIntArg(f.limit, '--limit') }),
        });
        if (o.json) printJson({ removed });
        else out(`removed ${removed} job(s) from ${queue}`);
      }),
    );

  program
    .command('drain')
    .description('take waiting jobs off a queue and print their data; they are marked completed (kept until retention removes them), or deleted with --delete')
    .argument('[queue]', 'queue name', 'default')
    .option('--limit <n>', 'take at most this many', '1000')
    .option('--delete', 'delete the drained jobs instead of keeping them as completed')
    .addHelpText('after', '\nExamples:\n  $ conveyor drain            prints the items `conveyor enqueue` added\n  $ conveyor drain images --delete --json')
    .action((queue: string, f: { limit: string; delete?: boolean }, cmd: Command) =>
      withClient(cmd, async (client, o) => {
        const limit = parseIntArg(f.limit, '--limit');
        const taken = [];
        while (taken.length < limit) {
          const batch = await client.drain(queue, Math.min(500, limit - taken.length));
          if (batch.length === 0) break;
          taken.push(...batch);
          if (f.delete) for (const j of batch) await client.remove(j.id);
          if (!o.json) for (const j of batch) out(typeof (j.data as { item?: unknown })?.item === 'string' ? (j.data as { item: string }).item : JSON.stringify(j.data));
        }
        if (o.json) printJson(taken.map((j) => ({ id: j.id, name: j.name, data: j.data })));
        else process.stderr.write(color.dim(`drained ${taken.length} job(s) from ${queue}${f.delete ? ' (deleted)' : ' (marked completed)'}\n`));
      }),
    );
}
