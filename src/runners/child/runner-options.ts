import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ValidationError } from '../../core/errors.ts';
import { describe } from '../../core/options.ts';

/** Options shared by the thread and process runners. */
export interface PooledRunnerOptions {
  /** The handler module: a path (absolute, or relative to the current directory) or a file: URL. */
  module: string | URL;
  /** The export to call (default: "default"). */
  export?: string;
  /** Most idle threads/children kept for reuse (default: as many as ran at once). */
  pool?: number;
  /** A fresh thread/child for every job, ended after it (default false). */
  isolate?: boolean;
  /** How long a stopped job may take to end before it is killed, ms (default 5000). */
  graceMs?: number;
}

export interface ResolvedPoolOptions {
  module: string;
  export: string;
  pool: number;
  isolate: boolean;
  graceMs: number;
}

const EXPORT_RE = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

export function resolvePoolOptions(o: PooledRunnerOptions): ResolvedPoolOptions {
  if (o === null || typeof o !== 'object') throw new ValidationError('runner options must be an object', 'options');
  const exportName = exportNameOf(o.export);
  if (o.pool !== undefined && (!Number.isInteger(o.pool) || o.pool < 0)) {
    throw new ValidationError(`pool must be an integer >= 0; got ${describe(o.pool)}`, 'pool');
  }
  if (o.isolate !== undefined && typeof o.isolate !== 'boolean') throw new ValidationError('isolate must be true or false', 'isolate');
  if (o.graceMs !== undefined && (typeof o.graceMs !== 'number' || !Number.isFinite(o.graceMs) || o.graceMs < 0 || o.graceMs > 2 ** 31 - 1)) {
    throw new ValidationError(`graceMs must be a number of ms >= 0; got ${describe(o.graceMs)}`, 'graceMs');
  }
  return {
    module: moduleUrl(o.module),
    export: exportName,
    pool: o.pool ?? Number.POSITIVE_INFINITY,
    isolate: o.isolate ?? false,
    graceMs: Math.round(o.graceMs ?? 5_000),
  };
}

export function exportNameOf(name: unknown): string {
  const exportName = name ?? 'default';
  if (typeof exportName !== 'string' || !EXPORT_RE.test(exportName)) {
    throw new ValidationError(`export must be the name of an export of the module; got ${describe(exportName)}`, 'export');
  }
  return exportName;
}

/**
 * The handler module as a file: URL the thread or child can import. Only files: a bare
 * package name would resolve from the bootstrap's folder, not the caller's.
 */
export function moduleUrl(module: unknown): string {
  let path: string;
  if (module instanceof URL || (typeof module === 'string' && module.startsWith('file:'))) {
    try {
      path = fileURLToPath(module as URL | string);
    } catch {
      throw new ValidationError(`module must be a file path or a file: URL; got ${describe(String(module))}`, 'module');
    }
  } else if (typeof module === 'string' && module.length > 0) {
    path = isAbsolute(module) ? module : resolve(module);
  } else {
    throw new ValidationError(`module must be a file path or a file: URL; got ${describe(module)}`, 'module');
  }
  if (!existsSync(path)) throw new ValidationError(`handler module not found: ${path}`, 'module');
  return pathToFileURL(path).href;
}
