/** `conveyor serve`: the HTTP API, JSON-RPC, events, metrics and built-in workers. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ValidationError } from '../../core/errors.ts';
import { JobManager } from '../../manager.ts';
import { storeSpecFrom } from '../../stores/open.ts';
import { startServer } from '../../server/start.ts';
import { color, parseIntArg } from '../format.ts';
import { globals, openTargetStore, storeFlags, waitingFor } from '../target.ts';
import { loadHandlers } from './worker.ts';

interface ServeFlags {
  listen?: string;
  bind?: string;
  handlers?: string[];
  queues: string;
  concurrency: string;
  shutdownTimeout: string;
  quiet?: boolean;
  uploads?: string;
  maintainEvery: string;
  config?: string;
  allowHost?: string[];
  maxUploadMb: string;
  waitForStore?: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('start the Conveyor server: REST API, JSON-RPC (/rpc), live events, /metrics, /health, dashboard')
    .option('--bind <host>', 'address to listen on (env CONVEYOR_HOST); beyond loopback a --token is required', undefined)
    .option('--listen <port>', 'port (env CONVEYOR_PORT; default 7700; 0 picks a free one)')
    .option('--handlers <modules...>', 'handler modules to run with built-in workers')
    .option('--config <file>', 'run a job manager from a JSON file: store, queue, limits, retention, job types and their runners (docs/job-types.md)')
    .option('-q, --queues <queues>', 'queues the built-in workers take jobs from', 'default')
    .option('-c, --concurrency <n>', 'built-in workers: jobs at once', '10')
    .option('--shutdown-timeout <ms>', 'on SIGTERM/SIGINT, wait this long for running jobs', '30000')
    .option('--uploads <dir>', 'where uploaded files are kept (env CONVEYOR_UPLOAD_DIR; default ./conveyor-uploads)')
    .option('--max-upload-mb <n>', 'largest upload per request, all files together, in MiB', '200')
    .option('--maintain-every <ms>', 'upkeep interval (promote due jobs, reclaim expired leases, retention) while this process is the elected maintainer', '5000')
    .option('--allow-host <names...>', 'host names browsers may use to reach this server besides IP addresses and localhost (env CONVEYOR_ALLOWED_HOSTS, comma-separated; * allows any)')
    .option('--wait-for-store <ms>', 'give up if the store cannot be reached this long at start (default: wait, saying so)')
    .option('--quiet', 'no request logs')
    .addHelpText('after', `
The store is --db FILE (default ./conveyor.db), --redis URL, --postgres URL, or the CONVEYOR_DB / CONVEYOR_REDIS_URL / CONVEYOR_POSTGRES_URL env vars.
--host/--port (Python multiprocessing-manager style) also set where it listens.

Examples:
  $ conveyor serve                                   http://127.0.0.1:7700 on ./conveyor.db
  $ conveyor serve --redis redis://127.0.0.1:6379 --listen 8080 --handlers ./jobs.ts
  $ CONVEYOR_TOKEN=s3cret conveyor serve --bind 0.0.0.0`)
    .action(async (f: ServeFlags, cmd: Command) => {
      const o = globals(cmd);
      const env = process.env;
      const host = f.bind ?? o.host ?? env.CONVEYOR_HOST ?? '127.0.0.1';
      const port = parseIntArg(f.listen ?? o.port ?? env.CONVEYOR_PORT ?? '7700', '--listen', 0, 65535);
      const token = o.token ?? o.authkey ?? env.CONVEYOR_TOKEN;
      if (f.config && f.handlers) throw new ValidationError('give either --config (a job manager) or --handlers, not both', '--config');
      const handlers = f.handlers ? await loadHandlers(f.handlers) : undefined;
      // With --config the job manager opens the store (the file's, unless --db/--redis say) and runs the job types.
      const manager = f.config ? await JobManager.open({ config: f.config, ...(o.db || o.redis || o.postgres ? { store: storeSpecFrom(storeFlags(o)) } : {}) }) : null;
      const store = manager ? manager.store : await openTargetStore({ ...o, server: undefined }, process.env, waitingFor(f.waitForStore));
      const server = await startServer({
        store,
        host,
        port,
        ...(token ? { token } : {}),
        ...(handlers ? { handlers } : {}),
        queues: f.queues.split(',').map((q) => q.trim()).filter(Boolean),
        concurrency: parseIntArg(f.concurrency, '--concurrency'),
        shutdownTimeoutMs: parseIntArg(f.shutdownTimeout, '--shutdown-timeout', 0),
        logger: f.quiet ? false : { level: 'info' },
        uploadDir: resolve(f.uploads ?? env.CONVEYOR_UPLOAD_DIR ?? './conveyor-uploads'),
        maxUploadBytes: parseIntArg(f.maxUploadMb, '--max-upload-mb') * 1024 * 1024,
        maintainMs: parseIntArg(f.maintainEvery, '--maintain-every'),
        allowedHosts: f.allowHost ?? (env.CONVEYOR_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim()).filter(Boolean),
        ...(manager ? { beforeStoreClose: () => manager.close() } : {}),
      }).catch(async (err) => {
        await manager?.close();
        await store.close();
        throw err;
      });
      process.stdout.write(
        `Conveyor listening on ${server.url}\n` +
          `  dashboard  ${server.url}/\n  API        ${server.url}/api/queues  (docs/http-api.md)\n  JSON-RPC   ${server.url}/rpc\n  health     ${server.url}/health   metrics ${server.url}/metrics\n` +
          `  store      ${store.kind} ${store.location}${token ? '' : color.dim('  (no token: loopback only)')}\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          process.stderr.write('conveyor: shutting down (finishing running jobs)\n');
          void server.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
