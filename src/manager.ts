/**
 * A job manager: registered commands that run directly or through
 * the queue (`useQueue`), one queue with its limits (concurrency, max size with eviction,
 * per-type limits, retention), a worker in this process, logs per stream and a health
 * report. It only composes Queue, Worker and the runners: every rule it states lives in
 * the queue's settings, so other processes on the same store obey it too.
 */
import { AbortedError, StateError, TimeoutError, ValidationError } from './core/errors.ts';
import type { Job } from './core/job.ts';
import { buildNewJob, describe, validateJobName, validateQueueName, type JobOptions } from './core/options.ts';
import type { QueueConfig } from './core/queue-config.ts';
import type { JobState } from './core/states.ts';
import { Queue } from './queue.ts';
import { createRunner, type RunnerKind } from './runners/create.ts';
import type { PooledRunnerOptions } from './runners/child/runner-options.ts';
import type { HandlerFn, JobContext, Runner } from './runners/runner.ts';
import { InlineRunner } from './runners/inline.ts';
import { openStore } from './stores/open.ts';
import type { StateCounts, Store } from './stores/store.ts';
import { readManagerConfig } from './manager-config.ts';
import { Worker, type WorkerOptions } from './worker/worker.ts';

/** Job options a command may fix for all its jobs. */
export type CommandJobOptions = Pick<JobOptions, 'timeout' | 'attempts' | 'backoff' | 'priority' | 'resultTtl' | 'failureTtl'>;

export interface CommandSpec extends Partial<Omit<PooledRunnerOptions, 'module'>> {
  /** A function (runs inline) or a Runner. Give this, or `module`. */
  handler?: HandlerFn | Runner;
  /** A handler module, run where `runner` says. */
  module?: string | URL;
  /** Where a `module` handler runs (default "process": each job in its own process). */
  runner?: RunnerKind;
  /** Queue calls by default and answer with a job id (`use_queue`). Default false. */
  useQueue?: boolean;
  /** Most jobs of this command this process runs at once. */
  concurrency?: number;
  /** Most unfinished jobs of this command in the queue (per_job_type_limits). */
  limit?: number;
  jobOptions?: CommandJobOptions;
}

export interface ManagerOptions {
  /**
   * A JSON file with these settings (module paths relative to it; docs/job-types.md).
   * Options given here as well win over the file's.
   */
  config?: string;
  /** A Store, or a spec for openStore: "memory" (default, in memory), a SQLite path, a redis:// URL. */
  store?: Store | string;
  /** The queue's name (default "jobs"). */
  queue?: string;
  commands?: Record<string, CommandSpec>;
  /** Most jobs running at once, across every worker of the queue (default 10). */
  maxConcurrentJobs?: number;
  /** Most unfinished jobs in the queue (default: no limit). */
  maxQueueSize?: number | null;
  /** At a full queue or type limit: evict the oldest waiting job (default), or refuse the add. */
  overflow?: QueueConfig['overflow'];
  /** How long finished jobs are kept, ms (default 6 h; 0 keeps them). */
  retentionMs?: number;
  /** How long close() lets running jobs finish before stopping them (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Run a worker in this process (default true); false makes a producer/admin only. */
  work?: boolean;
  /** Passed to the Worker (lease, heartbeat, maintenance...). */
  worker?: Partial<Omit<WorkerOptions, 'queues' | 'handlers' | 'concurrency' | 'shutdownTimeoutMs'>>;
}

export interface RunOptions {
  /** Overrides the command's `useQueue` for this call. */
  useQueue?: boolean;
  /** Queued calls: add as `pending`; it runs after `queue.start(id)` (add_job). */
  start?: boolean;
  /** Direct calls: stops the handler. */
  signal?: AbortSignal;
  /** Direct calls: where progress and log lines go (queued calls store them). */
  onProgress?: (percent: number, message?: string | null) => void;
  onLog?: (line: string, stream: string) => void;
}

export type RunOutcome = { queued: false; result: unknown } | { queued: true; jobId: string; state: JobState };

export interface JobLogs {
  jobId: string;
  stdout: string[];
  stderr: string[];
  /** Lines from ctx.log. */
  log: string[];
  stdoutLines: number;
  stderrLines: number;
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  /** Whether this process runs jobs now. */
  running: boolean;
  error?: string;
  queue: string;
  store: { kind: string; location: string };
  counts: StateCounts | null;
  totalJobs: number | null;
  /** Jobs active on any worker of the queue, and on this process's worker. */
  activeJobs: number | null;
  runningHere: string[];
  limits: {
    maxConcurrentJobs: number;
    maxQueueSize: number | null;
    overflow: QueueConfig['overflow'];
    typeLimits: Record<string, number>;
    retentionMs: number;
    shutdownTimeoutMs: number;
  };
  commands: { name: string; runner: string; useQueue: boolean }[];
}

interface Command {
  runner: Runner;
  useQueue: boolean;
  concurrency: number | undefined;
  jobOptions: CommandJobOptions;
}

const SIX_HOURS = 6 * 3600 * 1000;

export class JobManager {
  readonly store: Store;
  readonly queue: Queue;
  private readonly ownsStore: boolean;
  private readonly commands = new Map<string, Command>();
  private readonly limits: HealthReport['limits'];
  private readonly work: boolean;
  private readonly workerOptions: ManagerOptions['worker'];
  private worker: Worker | null = null;
  private closed = false;

  private constructor(store: Store, ownsStore: boolean, options: ManagerOptions, limits: HealthReport['limits']) {
    this.store = store;
    this.ownsStore = ownsStore;
    this.queue = new Queue(store, options.queue ?? 'jobs');
    this.limits = limits;
    this.work = options.work ?? true;
    this.workerOptions = options.worker ?? {};
  }

  /** Opens the store, applies the limits to the queue, registers the commands and starts working. */
  static async open(given: ManagerOptions = {}): Promise<JobManager> {
    if (given === null || typeof given !== 'object') throw new ValidationError('manager options must be an object', 'options');
    const { config, ...explicit } = given;
    if (config !== undefined && typeof config !== 'string') throw new ValidationError('config must be the path of a JSON file', 'config');
    const fromFile = config === undefined ? {} : readManagerConfig(config);
    const options: ManagerOptions = { ...fromFile, ...explicit, commands: { ...fromFile.commands, ...explicit.commands } };
    validateQueueName(options.queue ?? 'jobs');
    const limits = checkLimits(options);
    const commands = Object.entries(options.commands ?? {});
    for (const [name, spec] of commands) validateCommand(name, spec);
    if (options.store !== undefined && typeof options.store !== 'string' && !isStore(options.store)) {
      throw new ValidationError('store must be a Store or a store spec ("memory", a SQLite path, a redis:// URL)', 'store');
    }
    const owns = options.store === undefined || typeof options.store === 'string';
    const store = owns ? await openStore((options.store as string | undefined) ?? 'memory') : (options.store as Store);
    const manager = new JobManager(store, owns, options, limits);
    try {
      for (const [name, spec] of commands) manager.register(name, spec);
      await manager.applyLimits();
      await manager.start();
    } catch (err) {
      await manager.close();
      throw err;
    }
    return manager;
  }

  /** Adds a command. Commands are fixed once the worker has started. */
  register(name: string, spec: CommandSpec): void {
    validateCommand(name, spec);
    if (this.worker) throw new StateError(`cannot register "${name}": the manager's worker has started`);
    if (this.commands.has(name)) throw new ValidationError(`command "${name}" is registered already`, 'name');
    const runner =
      spec.handler === undefined
        ? createRunner({
            kind: spec.runner ?? 'process',
            module: spec.module!,
            ...pick(spec, ['export', 'pool', 'isolate', 'graceMs'] as const),
          })
        : typeof spec.handler === 'function'
          ? new InlineRunner(spec.handler)
          : spec.handler;
    this.commands.set(name, { runner, useQueue: spec.useQueue ?? false, concurrency: spec.concurrency, jobOptions: spec.jobOptions ?? {} });
    if (spec.limit !== undefined) this.limits.typeLimits[name] = spec.limit;
  }

  private async applyLimits(): Promise<void> {
    const ttl = this.limits.retentionMs === 0 ? null : this.limits.retentionMs;
    await this.queue.configure({
      concurrency: this.limits.maxConcurrentJobs,
      maxSize: this.limits.maxQueueSize,
      overflow: this.limits.overflow,
      typeLimits: this.limits.typeLimits,
      resultTtlMs: ttl,
      failureTtlMs: ttl,
    });
  }

  /** Starts this process's worker (open() does it; call it after late register()s). */
  async start(): Promise<void> {
    if (this.closed) throw new StateError('the manager is closed');
    if (!this.work || this.worker || this.commands.size === 0) return;
    await this.applyLimits();
    const handlers = Object.fromEntries([...this.commands].map(([name, c]) => [name, { handler: c.runner, ...(c.concurrency ? { concurrency: c.concurrency } : {}) }]));
    this.worker = new Worker(this.store, {
      ...this.workerOptions,
      queues: [this.queue.name],
      handlers,
      concurrency: this.limits.maxConcurrentJobs,
      shutdownTimeoutMs: this.limits.shutdownTimeoutMs,
    });
    await this.worker.start();
  }

  /**
   * Calls a command: directly (the result comes back) or through the queue (a job id comes
   * back; `wait(id)` gives the result). The command's `useQueue` decides unless the call does.
   */
  async run(name: string, params: unknown = {}, options: RunOptions = {}): Promise<RunOutcome> {
    const command = this.command(name);
    if (options === null || typeof options !== 'object') throw new ValidationError('run options must be an object', 'options');
    const useQueue = options.useQueue ?? command.useQueue;
    if (typeof useQueue !== 'boolean') throw new ValidationError('useQueue must be true or false', 'useQueue');
    if (useQueue) {
      const added = await this.queue.add(name, params, { ...command.jobOptions, ...(options.start === undefined ? {} : { start: options.start }) });
      return { queued: true, jobId: added.id, state: added.state };
    }
    return { queued: false, result: await this.runDirect(name, command, params, options) };
  }

  /** The result of a queued call once it ends; throws its error if it failed or was stopped. */
  async wait(jobId: string, timeoutMs = 0): Promise<unknown> {
    const job = await this.queue.waitUntilFinished(jobId, timeoutMs);
    if (job.state === 'completed') return job.result;
    if (job.state === 'canceled') throw new AbortedError(`job ${jobId} was stopped: ${job.message ?? 'canceled'}`);
    const last = job.errors[job.errors.length - 1];
    const err = new Error(last?.message ?? `job ${jobId} failed`);
    if (last?.stack) err.stack = last.stack;
    throw err;
  }

  /** A job's log lines split by stream, as get_job_logs returns them. */
  async jobLogs(jobId: string): Promise<JobLogs> {
    const out: JobLogs = { jobId, stdout: [], stderr: [], log: [], stdoutLines: 0, stderrLines: 0 };
    for (let after = 0; ; ) {
      const page = await this.queue.getLogs(jobId, after, 1000);
      for (const l of page) out[l.stream].push(l.line);
      if (page.length < 1000) break;
      after = page[page.length - 1].seq;
    }
    out.stdoutLines = out.stdout.length;
    out.stderrLines = out.stderr.length;
    return out;
  }

  async health(): Promise<HealthReport> {
    const base = {
      running: this.worker !== null && !this.closed,
      queue: this.queue.name,
      store: { kind: this.store.kind, location: this.store.location },
      runningHere: this.worker ? this.worker.info().active : [],
      limits: { ...this.limits, typeLimits: { ...this.limits.typeLimits } },
      commands: [...this.commands].map(([name, c]) => ({ name, runner: c.runner.kind, useQueue: c.useQueue })),
    };
    try {
      const counts = await this.queue.counts();
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      return { status: 'healthy', ...base, counts, totalJobs: total, activeJobs: counts.active };
    } catch (err) {
      return { status: 'unhealthy', error: (err as Error).message, ...base, counts: null, totalJobs: null, activeJobs: null };
    }
  }

  /** Stops the worker (running jobs get the shutdown timeout), then closes what open() opened. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker?.close();
    if (!this.worker) await Promise.all([...this.commands.values()].map((c) => c.runner.close().catch(() => {})));
    await this.queue.close();
    if (this.ownsStore) await this.store.close();
  }

  private command(name: string): Command {
    validateJobName(name);
    const command = this.commands.get(name);
    if (!command) throw new ValidationError(`unknown command "${name}"`, 'name');
    return command;
  }

  private async runDirect(name: string, command: Command, params: unknown, options: RunOptions): Promise<unknown> {
    if (this.closed) throw new StateError('the manager is closed');
    // Validated exactly as a queued job's would be, so moving a command to the queue changes nothing.
    const nj = buildNewJob(this.queue.name, name, params, command.jobOptions);
    const now = Date.now();
    const job: Job = {
      ...{ id: nj.id, queue: nj.queue, name, data: JSON.parse(nj.dataJson), state: 'active', priority: nj.priority, runAt: null },
      ...{ attempt: 1, maxAttempts: 1, backoff: null, timeoutMs: nj.timeoutMs, progress: 0, message: null, result: null, errors: [] },
      ...{ createdAt: now, startedAt: now, finishedAt: null, workerId: null, leaseUntil: null, dependsOn: [], onParentFailure: 'fail' },
      ...{ groupKey: null, resultTtlMs: null, failureTtlMs: null, expiresAt: null, scheduleId: null, startBy: null, trace: null, originalQueue: null, waitingOn: null, dedupeKey: null, debounceKey: null, logCount: 0 },
    };
    const abort = new AbortController();
    const stop = () => abort.abort(options.signal?.reason ?? new AbortedError('call stopped'));
    if (options.signal?.aborted) stop();
    options.signal?.addEventListener('abort', stop, { once: true });
    const timer = nj.timeoutMs === null ? null : setTimeout(() => abort.abort(new TimeoutError(`${name} timed out after ${nj.timeoutMs} ms`)), nj.timeoutMs);
    const ctx: JobContext = {
      signal: abort.signal,
      progress: (percent, message) => options.onProgress?.(percent, message),
      log: (line, stream = 'log') => options.onLog?.(String(line), stream),
    };
    // Like the Worker: the call ends on abort even if the handler ignores its signal.
    const aborted = new Promise<never>((_, reject) => abort.signal.addEventListener('abort', () => reject(abort.signal.reason), { once: true }));
    try {
      return await Promise.race([command.runner.run(job, ctx), aborted]);
    } finally {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', stop);
      aborted.catch(() => {});
    }
  }
}

function checkLimits(o: ManagerOptions): HealthReport['limits'] {
  const posInt = (v: unknown, field: string) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValidationError(`${field} must be a positive integer; got ${describe(v)}`, field);
    return v;
  };
  const ms = (v: unknown, field: string) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ValidationError(`${field} must be ms >= 0; got ${describe(v)}`, field);
    return Math.round(v);
  };
  if (o.overflow !== undefined && o.overflow !== 'reject' && o.overflow !== 'evict-oldest') {
    throw new ValidationError('overflow must be "evict-oldest" or "reject"', 'overflow');
  }
  return {
    maxConcurrentJobs: posInt(o.maxConcurrentJobs ?? 10, 'maxConcurrentJobs'),
    maxQueueSize: o.maxQueueSize === undefined || o.maxQueueSize === null ? null : posInt(o.maxQueueSize, 'maxQueueSize'),
    overflow: o.overflow ?? 'evict-oldest',
    typeLimits: {},
    retentionMs: ms(o.retentionMs ?? SIX_HOURS, 'retentionMs'),
    shutdownTimeoutMs: ms(o.shutdownTimeoutMs ?? 30_000, 'shutdownTimeoutMs'),
  };
}

function validateCommand(name: string, spec: CommandSpec): void {
  validateJobName(name);
  const field = (f: string) => `commands.${name}.${f}`;
  if (spec === null || typeof spec !== 'object') throw new ValidationError(`command "${name}" must be an object`, `commands.${name}`);
  if ((spec.handler === undefined) === (spec.module === undefined)) {
    throw new ValidationError(`command "${name}" needs either handler or module`, field('handler'));
  }
  if (spec.handler !== undefined && typeof spec.handler !== 'function' && !isRunner(spec.handler)) {
    throw new ValidationError(`handler of "${name}" must be a function or a Runner`, field('handler'));
  }
  if (spec.useQueue !== undefined && typeof spec.useQueue !== 'boolean') throw new ValidationError('useQueue must be true or false', field('useQueue'));
  for (const key of ['concurrency', 'limit'] as const) {
    const v = spec[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new ValidationError(`${key} must be a positive integer; got ${describe(v)}`, field(key));
  }
  // Job options are checked now, not at the first call.
  buildNewJob('check', name, null, spec.jobOptions ?? {});
}

function isRunner(v: unknown): v is Runner {
  return typeof v === 'object' && v !== null && typeof (v as Runner).run === 'function' && typeof (v as Runner).close === 'function';
}

function isStore(v: unknown): v is Store {
  return typeof v === 'object' && v !== null && typeof (v as Store).enqueue === 'function' && typeof (v as Store).claim === 'function';
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
