/** `conveyor worker`: runs handler modules against a SQLite file or Redis (RQ's `rq worker`). */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.ts';
import type { HandlerFn, Runner } from '../../runners/runner.ts';
import { Worker, type HandlerSpec } from '../../worker/worker.ts';
import { color, parseIntArg } from '../format.ts';
import { openStoreWaiting } from '../../stores/open.ts';
import { globals, openTargetStore, serverUrl, waitingFor } from '../target.ts';

type Handlers = Record<string, HandlerFn | Runner | HandlerSpec>;

/** A handler module exports handlers by job name (named exports, or a default object). */
export async function loadHandlers(paths: string[]): Promise<Handlers> {
  const all: Handlers = {};
  for (const p of paths) {
    const file = resolve(p);
    if (!existsSync(file)) throw new ValidationError(`handler module not found: ${p}`, '--handlers');
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      // Say which module failed: its own message alone ("x is not defined") names no file.
      throw new ValidationError(`handler module ${p} failed to load: ${(err as Error).message}`, '--handlers');
    }
    const source = mod.default && typeof mod.default === 'object' ? (mod.default as Record<string, unknown>) : mod;
    for (const [name, h] of Object.entries(source)) {
      if (name === 'default') continue;
      if (typeof h === 'function' || (h && typeof h === 'object')) all[name] = h as Handlers[string];
    }
  }
  if (Object.keys(all).length === 0) throw new ValidationError(`no handlers exported by ${paths.join(', ')}`, '--handlers');
  return all;
}

export function register(program: Command): void {
  program
    .command('worker')
    .description('run jobs: handlers come from modules that export one function per job name')
    .requiredOption('--handlers <modules...>', 'handler modules (.ts or .js)')
    .option('-q, --queues <queues>', 'queues to take jobs from, comma-separated', 'default')
    .option('-c, --concurrency <n>', 'jobs at once', '10')
    .option('--burst', 'exit once the queues are empty')
    .option('--strict-order', 'take from the queues in the order given (default: fair, each claim starts at the next queue)')
    .option('--name <name>', 'name shown by `conveyor info`')
    .option('--shutdown-timeout <ms>', 'on Ctrl-C/SIGTERM, wait this long for running jobs', '30000')
    .option('--wait-for-store <ms>', 'give up if the store (or server) cannot be reached this long at start (default: wait, saying so)')
    .addHelpText('after', `
Handler module (jobs.ts):
  export async function resize(job, ctx) { ctx.progress(50, 'half way'); return { ok: true }; }

Examples:
  $ conveyor worker --handlers ./jobs.ts --queues images,default --concurrency 4
  $ conveyor worker --handlers ./jobs.ts --burst --redis redis://127.0.0.1:6379
  $ conveyor worker --handlers ./jobs.ts --server http://10.0.0.5:7700 --token s3cret   a remote worker`)
    .action(async (f: { handlers: string[]; queues: string; concurrency: string; burst?: boolean; name?: string; shutdownTimeout: string; waitForStore?: string; strictOrder?: boolean }, cmd: Command) => {
      const o = globals(cmd);
      const handlers = await loadHandlers(f.handlers);
      // With a server (--server, --host/--port or CONVEYOR_SERVER) it is a remote worker:
      // jobs come over the server's API, and upkeep is the server's.
      const server = serverUrl(o);
      const wait = waitingFor(f.waitForStore);
      const store = server ? await openStoreWaiting(server, { token: o.token ?? o.authkey ?? process.env.CONVEYOR_TOKEN ?? '' }, wait) : await openTargetStore(o, process.env, wait);
      const worker = new Worker(store, {
        queues: f.queues.split(',').map((q) => q.trim()).filter(Boolean),
        handlers,
        concurrency: parseIntArg(f.concurrency, '--concurrency'),
        burst: Boolean(f.burst),
        shutdownTimeoutMs: parseIntArg(f.shutdownTimeout, '--shutdown-timeout', 0),
        ...(f.name ? { name: f.name } : {}),
        ...(server ? { maintainMs: 0 } : {}),
        ...(f.strictOrder ? { queueOrder: 'strict' as const } : {}),
      });
      const log = (line: string) => process.stderr.write(`${color.dim(new Date().toISOString())} ${line}\n`);
      worker.on('completed', (job) => log(`${color.green('completed')} ${job.name} ${job.id}`));
      worker.on('failed', (job, err, willRetry) => log(`${color.red('failed')} ${job.name} ${job.id}: ${err.message}${willRetry ? ' (will retry)' : ''}`));
      worker.on('error', (err) => log(`${color.yellow('error')} ${err.message}`));
      const stop = () => {
        log('stopping: finishing running jobs');
        void worker.close();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      log(`worker ${worker.name} on ${store.kind} ${store.location}, queues ${f.queues}, handlers ${Object.keys(handlers).join(', ')}`);
      await worker.run();
      await store.close();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    });
}
