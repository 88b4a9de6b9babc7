import { UnrecoverableError } from '../../core/errors.ts';
import type { HandlerFn } from '../runner.ts';

const cache = new Map<string, Promise<HandlerFn>>();

/**
 * Imports a handler module once per thread or process and picks its export. A missing
 * module or export fails the job as unrecoverable: another attempt would fail the same way.
 */
export function loadHandler(moduleUrl: string, exportName: string): Promise<HandlerFn> {
  const key = `${moduleUrl}#${exportName}`;
  let p = cache.get(key);
  if (!p) {
    p = pick(moduleUrl, exportName);
    // A failed import is not cached: the file may be fixed before the next job.
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}

async function pick(moduleUrl: string, exportName: string): Promise<HandlerFn> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (err) {
    const e = new UnrecoverableError(`cannot load handler module ${moduleUrl}: ${(err as Error)?.message ?? String(err)}`);
    if (err instanceof Error && err.stack) e.stack = `${e.name}: ${e.message}\n${err.stack}`;
    throw e;
  }
  const fn = mod[exportName];
  if (typeof fn !== 'function') {
    throw new UnrecoverableError(`handler module ${moduleUrl} has no function export "${exportName}" (found ${fn === undefined ? 'nothing' : typeof fn})`);
  }
  return fn as HandlerFn;
}
