/**
 * What a Worker is told, checked once at construction: every later step trusts it.
 */
import type { Clock } from '../core/clock.ts';
import { ValidationError } from '../core/errors.ts';
import type { Job } from '../core/job.ts';
import { validateJobName, validateQueueName } from '../core/options.ts';
import { InlineRunner } from '../runners/inline.ts';
import type { HandlerFn, Runner } from '../runners/runner.ts';

/** A handler with options; `runner` may be any Runner (see src/runners/). */
export interface HandlerSpec {
  /** An inline function, or a Runner (thread/process) made by createRunner(). */
  handler: HandlerFn | Runner;
  /** Most jobs of this type this worker runs at once. */
  concurrency?: number;
}

export type BackoffFn = (attempt: number, error: Error, job: Job) => number;

export interface WorkerOptions {
  queues: string[];
  /** Handlers by job name; the name '*' catches every other name. */
  handlers: Record<string, HandlerFn | Runner | HandlerSpec>;
  /** Jobs run at once (default 10). */
  concurrency?: number;
  /** Name shown in `info` and the dashboard. */
  name?: string;
  /** How long a claimed job stays ours without a heartbeat (default 30 s). */
  leaseMs?: number;
  /** How often leases are extended (default leaseMs / 3). */
  heartbeatMs?: number;
  /**
   * How often this worker's Maintainer runs upkeep when it is the elected one (default
   * 5 s; 0: run no Maintainer, e.g. when `conveyor serve` or a dedicated process does).
   */
  maintainMs?: number;
  /** Exit when no job is left to claim (RQ's --burst). */
  burst?: boolean;
  /** How long close() waits for running jobs before aborting them (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Functions for jobs whose backoff is { type: 'custom', name }. */
  backoffStrategies?: Record<string, BackoffFn>;
  /** Longest idle sleep between claim attempts, as a safety net (default 5 s). */
  idleMs?: number;
  /** Default: the store's clock. */
  clock?: Clock;
  /**
   * How a worker on several queues takes from them: 'fair' (default) starts each claim at
   * the next queue in turn, so a deep queue cannot starve the others; 'strict' always tries
   * them in the order given (the first queue drains first).
   */
  queueOrder?: 'fair' | 'strict';
}

/** A job type's runner and its own concurrency (null: only the worker's applies). */
export interface TypeRunner {
  runner: Runner;
  concurrency: number | null;
}

export interface ResolvedOptions {
  queues: string[];
  runners: Map<string, TypeRunner>;
  concurrency: number;
  leaseMs: number;
  heartbeatMs: number;
  maintainMs: number;
  idleMs: number;
  burst: boolean;
  shutdownTimeoutMs: number;
  backoffStrategies: Record<string, BackoffFn>;
  queueOrder: 'fair' | 'strict';
}

/** Every WorkerOptions key: a misspelt one ("concurency") is refused, not silently ignored. */
const KNOWN: ReadonlySet<string> = new Set<keyof WorkerOptions>([
  'queues', 'handlers', 'concurrency', 'name', 'leaseMs', 'heartbeatMs', 'maintainMs', 'burst', 'shutdownTimeoutMs', 'backoffStrategies', 'idleMs', 'clock', 'queueOrder',
]);

export function resolveOptions(options: WorkerOptions): ResolvedOptions {
  if (options !== null && typeof options === 'object') {
    for (const key of Object.keys(options)) if (!KNOWN.has(key)) throw new ValidationError(`unknown Worker option "${key}"; known: ${[...KNOWN].join(', ')}`, key);
  }
  if (!options || !Array.isArray(options.queues) || options.queues.length === 0) throw new ValidationError('Worker needs at least one queue', 'queues');
  if (options.burst !== undefined && typeof options.burst !== 'boolean') throw new ValidationError('burst must be true or false', 'burst');
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0 || options.name.length > 200)) {
    throw new ValidationError('name must be a string of 1-200 characters', 'name');
  }
  const shutdown = options.shutdownTimeoutMs ?? 30_000;
  if (!Number.isInteger(shutdown) || shutdown < 0) throw new ValidationError('shutdownTimeoutMs must be an integer of milliseconds, 0 or more', 'shutdownTimeoutMs');
  options.queues.forEach((q) => validateQueueName(q));
  if (!options.handlers || typeof options.handlers !== 'object' || Object.keys(options.handlers).length === 0) {
    throw new ValidationError('Worker needs at least one handler', 'handlers');
  }
  const runners = new Map<string, TypeRunner>();
  for (const [name, h] of Object.entries(options.handlers)) {
    if (name !== '*') validateJobName(name);
    const spec: HandlerSpec = typeof h === 'function' || isRunner(h) ? { handler: h } : h;
    if (!spec || (typeof spec.handler !== 'function' && !isRunner(spec.handler))) {
      throw new ValidationError(`handler for "${name}" must be a function or a Runner`, `handlers.${name}`);
    }
    const runner = typeof spec.handler === 'function' ? new InlineRunner(spec.handler) : spec.handler;
    runners.set(name, { runner, concurrency: spec.concurrency === undefined ? null : positive(spec.concurrency, `handlers.${name}.concurrency`) });
  }
  const leaseMs = positive(options.leaseMs ?? 30_000, 'leaseMs');
  const maintainMs = options.maintainMs ?? 5_000;
  if (maintainMs !== 0) positive(maintainMs, 'maintainMs');
  return {
    queues: [...new Set(options.queues)],
    runners,
    concurrency: positive(options.concurrency ?? 10, 'concurrency'),
    leaseMs,
    heartbeatMs: positive(options.heartbeatMs ?? Math.max(10, Math.floor(leaseMs / 3)), 'heartbeatMs'),
    maintainMs,
    idleMs: positive(options.idleMs ?? 5_000, 'idleMs'),
    burst: options.burst ?? false,
    shutdownTimeoutMs: shutdown,
    backoffStrategies: options.backoffStrategies ?? {},
    queueOrder: queueOrderOf(options.queueOrder),
  };
}

function queueOrderOf(v: unknown): 'fair' | 'strict' {
  if (v === undefined) return 'fair';
  if (v !== 'fair' && v !== 'strict') throw new ValidationError('queueOrder must be "fair" or "strict"', 'queueOrder');
  return v;
}

export function isRunner(v: unknown): v is Runner {
  return typeof v === 'object' && v !== null && typeof (v as Runner).run === 'function' && typeof (v as Runner).close === 'function';
}

function positive(v: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValidationError(`${field} must be a positive integer`, field);
  return v;
}
