/**
 * Starts a server with built-in workers: what `conveyor serve` runs. Refuses to listen
 * beyond loopback without a token; on close, stops accepting, lets workers finish or hand
 * back their jobs, then closes the store. It always runs a Maintainer, handlers or not:
 * jobs claimed by remote HTTP workers need their expired leases reclaimed too.
 */
import { ValidationError } from '../core/errors.ts';
import type { Store } from '../stores/store.ts';
import type { HandlerFn, Runner } from '../runners/runner.ts';
import { Maintainer } from '../maintainer.ts';
import { Worker, type HandlerSpec } from '../worker/worker.ts';
import { buildServer } from './app.ts';
import { isLoopback } from './auth.ts';

export interface StartOptions {
  store: Store;
  host?: string;
  port?: number;
  token?: string;
  /** Handlers by job name, run by one built-in Worker per queue list. */
  handlers?: Record<string, HandlerFn | Runner | HandlerSpec>;
  queues?: string[];
  concurrency?: number;
  shutdownTimeoutMs?: number;
  logger?: boolean | object;
  uploadDir?: string;
  /** Largest upload per request, all files together, bytes. */
  maxUploadBytes?: number;
  /** How often upkeep runs while this server is the elected maintainer (default 5 s). */
  maintainMs?: number;
  /** Host names accepted in requests besides IP literals, localhost and the bound name. */
  allowedHosts?: string[];
  /** Runs on close once requests have stopped, before the store closes (a job manager's worker). */
  beforeStoreClose?: () => Promise<void>;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  if (!o.token && !(await isLoopback(host))) {
    throw new ValidationError(`refusing to listen on ${host} without a token: pass --token (or CONVEYOR_TOKEN), or bind to 127.0.0.1`, 'token');
  }
  const app = await buildServer({
    store: o.store,
    ...(o.token ? { token: o.token } : {}),
    ...(o.logger === undefined ? {} : { logger: o.logger }),
    ...(o.uploadDir ? { uploadDir: o.uploadDir } : {}),
    ...(o.maxUploadBytes ? { maxUploadBytes: o.maxUploadBytes } : {}),
    // The name the server was bound to is its own.
    allowedHosts: [...(o.allowedHosts ?? []), host],
  });
  const maintainer = new Maintainer(o.store, { intervalMs: o.maintainMs ?? 5_000, onError: (err) => app.log.warn({ err }, 'upkeep failed (retrying next round)') });
  maintainer.start();
  let worker: Worker | null = null;
  if (o.handlers && Object.keys(o.handlers).length > 0) {
    worker = new Worker(o.store, {
      queues: o.queues ?? ['default'],
      handlers: o.handlers,
      concurrency: o.concurrency ?? 10,
      shutdownTimeoutMs: o.shutdownTimeoutMs ?? 30_000,
      name: `serve:${process.pid}`,
      // The server's own Maintainer does the upkeep.
      maintainMs: 0,
    });
    worker.on('error', (err) => app.log.warn({ err }, 'worker error'));
    await worker.start();
  }
  let address: string;
  try {
    address = await app.listen({ host, port: o.port ?? 7700 });
  } catch (err) {
    // Stop what was started, or its upkeep would go on against a store the caller closes.
    await worker?.close();
    await maintainer.stop();
    await app.close();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ValidationError(`cannot listen on ${host}:${o.port ?? 7700}: the port is in use (pick another with --listen, or 0 for a free one)`, 'port');
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ValidationError(`cannot listen on ${host}: no such address on this machine`, 'host');
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    url: address.replace('[::1]', 'localhost'),
    close() {
      closing ??= (async () => {
        await app.close();
        await worker?.close();
        await o.beforeStoreClose?.();
        await maintainer.stop();
        await o.store.close();
      })();
      return closing;
    },
  };
}
