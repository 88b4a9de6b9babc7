/**
 * The Worker: claims jobs from one or more queues and runs their handlers by job name.
 *
 * Hot path, batched by design: claims take as many jobs as there are free slots in one
 * store call; finishes, progress and log updates are group-committed (see Batcher); all
 * leases are extended in one call per heartbeat. Idle workers sleep in `store.wait`,
 * which the backend wakes when work arrives: no polling loop of our own.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { Batcher } from './core/batcher.ts';
import { AbortedError, TimeoutError, UnrecoverableError, ValidationError } from './core/errors.ts';
import type { ClaimedJob, Job, LogStream } from './core/job.ts';
import { validateJobName, validateQueueName } from './core/options.ts';
import { InlineRunner } from './runners/inline.ts';
import type { HandlerFn, JobContext, Runner } from './runners/runner.ts';
import type { JobEvent, JobUpdate, Outcome, Store, WorkerInfo } from './stores/store.ts';

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
  /** How often this worker runs store.maintain() (default 5 s; 0: never). */
  maintainMs?: number;
  /** Exit when no job is left to claim (RQ's --burst). */
  burst?: boolean;
  /** How long close() waits for running jobs before aborting them (default 30 s). */
  shutdownTimeoutMs?: number;
  /** Functions for jobs whose backoff is { type: 'custom', name }. */
  backoffStrategies?: Record<string, BackoffFn>;
  /** Longest idle sleep between claim attempts, as a safety net (default 5 s). */
  idleMs?: number;
}

interface Running {
  job: ClaimedJob;
  /** Made on first use: most handlers never look at their signal. */
  controller: AbortController | null;
  timer: ReturnType<typeof setTimeout> | null;
  /** Settled once: by the handler, or first by an abort (a handler may ignore its signal). */
  settled: boolean;
  /** Why the job was aborted from outside: its outcome is then not ours to write. */
  abortedBy: 'canceled' | 'removed' | 'lease' | null;
}

export interface WorkerEvents {
  active: [job: Job];
  completed: [job: Job, result: unknown];
  failed: [job: Job, error: Error, willRetry: boolean];
  error: [error: Error];
  drained: [];
  closed: [];
}

export class Worker extends EventEmitter<WorkerEvents> {
  readonly id: string;
  readonly name: string;
  private readonly store: Store;
  private readonly queues: string[];
  private readonly runners = new Map<string, { runner: Runner; concurrency: number | null }>();
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly maintainMs: number;
  private readonly idleMs: number;
  private readonly burst: boolean;
  private readonly shutdownTimeoutMs: number;
  private readonly backoffStrategies: Record<string, BackoffFn>;
  private readonly running = new Map<string, Running>();
  private readonly perName = new Map<string, number>();
  private readonly finisher: Batcher<Outcome, boolean>;
  private readonly updater: Batcher<JobUpdate, boolean>;
  private stopping = false;
  private loopDone: Promise<void> | null = null;
  private wake: AbortController = new AbortController();
  private woken = false;
  /** The loop awaits `wake` (store.wait or sleep). */
  private sleeping = false;
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private maintainTimer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly startedAt = Date.now();
  private processed = 0;
  /** Outcomes handed to the finisher and not yet written. */
  private writing = 0;
  private failedCount = 0;
  private closing: Promise<void> | null = null;

  constructor(store: Store, options: WorkerOptions) {
    super();
    if (!options || !Array.isArray(options.queues) || options.queues.length === 0) throw new ValidationError('Worker needs at least one queue', 'queues');
    options.queues.forEach((q) => validateQueueName(q));
    if (!options.handlers || typeof options.handlers !== 'object' || Object.keys(options.handlers).length === 0) {
      throw new ValidationError('Worker needs at least one handler', 'handlers');
    }
    this.store = store;
    this.queues = [...new Set(options.queues)];
    this.concurrency = positive(options.concurrency ?? 10, 'concurrency');
    this.leaseMs = positive(options.leaseMs ?? 30_000, 'leaseMs');
    this.heartbeatMs = positive(options.heartbeatMs ?? Math.max(10, Math.floor(this.leaseMs / 3)), 'heartbeatMs');
    this.maintainMs = options.maintainMs ?? 5_000;
    this.idleMs = positive(options.idleMs ?? 5_000, 'idleMs');
    this.burst = options.burst ?? false;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 30_000;
    this.backoffStrategies = options.backoffStrategies ?? {};
    this.id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.name = options.name ?? this.id;
    for (const [name, h] of Object.entries(options.handlers)) {
      if (name !== '*') validateJobName(name);
      const spec: HandlerSpec = typeof h === 'function' || isRunner(h) ? { handler: h } : h;
      if (!spec || (typeof spec.handler !== 'function' && !isRunner(spec.handler))) {
        throw new ValidationError(`handler for "${name}" must be a function or a Runner`, `handlers.${name}`);
      }
      const runner = typeof spec.handler === 'function' ? new InlineRunner(spec.handler) : spec.handler;
      this.runners.set(name, { runner, concurrency: spec.concurrency === undefined ? null : positive(spec.concurrency, `handlers.${name}.concurrency`) });
    }
    this.finisher = new Batcher((o) => this.store.finish(o), 1000);
    this.updater = new Batcher((u) => this.store.update(u), 1000);
  }

  /** Starts taking jobs. Resolves once started; `closed()` resolves when it stops. */
  async start(): Promise<void> {
    if (this.loopDone) return;
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatMs);
    if (this.maintainMs > 0) {
      this.maintainTimer = setInterval(() => {
        this.store.maintain().catch((err) => this.emitError(err));
      }, this.maintainMs);
    }
    await this.store.reportWorker(this.info(), this.heartbeatMs * 3).catch((err) => this.emitError(err));
    this.loopDone = this.loop();
  }

  /** Starts and resolves when the worker stops (burst mode: when the queues are empty). */
  async run(): Promise<void> {
    await this.start();
    await this.loopDone;
    await this.close();
  }

  get activeCount(): number {
    return this.running.size;
  }

  info(): WorkerInfo {
    return {
      id: this.id,
      name: this.name,
      host: hostname(),
      pid: process.pid,
      queues: this.queues,
      concurrency: this.concurrency,
      active: [...this.running.keys()],
      startedAt: this.startedAt,
      lastSeen: Date.now(),
      processed: this.processed,
      failed: this.failedCount,
    };
  }

  /**
   * The claims to make for `free` slots. Usually one; a type with its own concurrency gets
   * its own claim so a single batch can never overshoot that type's limit.
   */
  private claimRequests(free: number): { names: string[] | undefined; limit: number }[] {
    const limited: { name: string; room: number }[] = [];
    const open: string[] = [];
    for (const [name, r] of this.runners) {
      if (name === '*') continue;
      if (r.concurrency === null) open.push(name);
      else limited.push({ name, room: r.concurrency - (this.perName.get(name) ?? 0) });
    }
    if (this.runners.has('*')) {
      // The catch-all may take any name, so it takes no more than the tightest type allows.
      const limit = Math.min(free, ...limited.map((l) => l.room));
      return limit > 0 ? [{ names: undefined, limit }] : [];
    }
    const requests = open.length > 0 ? [{ names: open, limit: free }] : [];
    for (const l of limited) if (l.room > 0) requests.push({ names: [l.name], limit: l.room });
    return requests;
  }

  private async claimFor(free: number): Promise<ClaimedJob[] | null> {
    const requests = this.claimRequests(free);
    if (requests.length === 0) return null;
    const jobs: ClaimedJob[] = [];
    for (const r of requests) {
      const limit = Math.min(r.limit, free - jobs.length);
      if (limit <= 0) break;
      jobs.push(...(await this.store.claim({ queues: this.queues, workerId: this.id, limit, leaseMs: this.leaseMs, names: r.names })));
    }
    return jobs;
  }

  private async loop(): Promise<void> {
    let backoff = 0;
    while (!this.stopping) {
      // A nudge from here on (a slot freed while we claim) must cut the next sleep short.
      this.woken = false;
      // Let every job that finished in this turn free its slot first: one claim for many
      // slots is one round trip, where a claim per freed slot would be many.
      if (this.running.size > 0) await new Promise((r) => setImmediate(r));
      const free = this.concurrency - this.running.size;
      if (free <= 0 || this.writing > this.concurrency) {
        await this.sleep(this.idleMs);
        continue;
      }
      // null: every type this worker handles is at its own limit.
      let jobs: ClaimedJob[] | null;
      try {
        jobs = await this.claimFor(free);
        backoff = 0;
      } catch (err) {
        this.emitError(err);
        // The backend is unreachable: back off, then try again; never give up.
        backoff = Math.min(5_000, backoff ? backoff * 2 : 100);
        await this.sleep(backoff);
        continue;
      }
      for (const job of jobs ?? []) this.execute(job);
      if (jobs && jobs.length > 0) continue;
      if ((this.running.size > 0 || this.writing > 0) && jobs !== null) {
        // Others may still be finishing: sleep until a slot frees or work arrives.
        await this.waitForWork();
        continue;
      }
      if (this.burst && this.running.size === 0 && this.writing === 0) {
        this.emit('drained');
        break;
      }
      this.emit('drained');
      await this.waitForWork();
    }
  }

  private async waitForWork(): Promise<void> {
    if (this.woken || this.stopping) return;
    const wake = this.wake;
    this.sleeping = true;
    try {
      await this.store.wait(this.queues, this.idleMs, wake.signal);
    } catch (err) {
      this.emitError(err);
      await this.sleep(500);
    } finally {
      this.sleeping = false;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) return Promise.resolve();
    const signal = this.wake.signal;
    this.sleeping = true;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal.removeEventListener('abort', done);
        this.sleeping = false;
        resolve();
      };
      const t = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** Ends the loop's current sleep so it claims again. */
  private nudge(): void {
    this.woken = true;
    // Only a sleeping loop listens; a busy one sees `woken`. Saves a controller per job.
    if (!this.sleeping) return;
    const old = this.wake;
    this.wake = new AbortController();
    // A plain reason: abort() without one builds a DOMException, measurable on the hot path.
    old.abort(WAKE);
  }

  private signalOf(r: Running): AbortSignal {
    r.controller ??= new AbortController();
    return r.controller.signal;
  }

  /** Aborts a running job; its slot frees now even if the handler ignores the signal. */
  private abortJob(r: Running, reason: Error): void {
    r.controller ??= new AbortController();
    if (!r.controller.signal.aborted) r.controller.abort(reason);
    void this.settle(r, reason);
  }

  private execute(job: ClaimedJob): void {
    const entry = this.runners.get(job.name) ?? this.runners.get('*');
    const r: Running = { job, controller: null, timer: null, settled: false, abortedBy: null };
    this.running.set(job.id, r);
    this.perName.set(job.name, (this.perName.get(job.name) ?? 0) + 1);
    this.emit('active', job);
    if (!entry) {
      void this.settle(r, new UnrecoverableError(`no handler for job type "${job.name}" on worker ${this.name}`));
      return;
    }
    if (job.timeoutMs !== null) {
      r.timer = setTimeout(() => this.abortJob(r, new TimeoutError(`job timed out after ${job.timeoutMs} ms`)), job.timeoutMs);
    }
    const signalOf = () => this.signalOf(r);
    const ctx: JobContext = {
      get signal() {
        return signalOf();
      },
      progress: (percent, message) => {
        if (typeof percent !== 'number' || !Number.isFinite(percent)) throw new ValidationError('progress must be a number from 0 to 100', 'progress');
        void this.updater.add({ id: job.id, token: job.token, progress: percent, ...(message === undefined ? {} : { message }) }).catch((e) => this.emitError(e));
      },
      log: (line, stream: LogStream = 'log') => {
        void this.updater.add({ id: job.id, token: job.token, logs: [{ stream, line: String(line) }] }).catch((e) => this.emitError(e));
      },
    };
    let run: Promise<unknown>;
    try {
      run = Promise.resolve(entry.runner.run(job, ctx));
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (result) => this.settle(r, null, result),
      (err) => this.settle(r, toError(err)),
    );
  }

  private async settle(r: Running, error: Error | null, result?: unknown): Promise<void> {
    if (r.settled) return;
    r.settled = true;
    const { job } = r;
    if (r.timer) clearTimeout(r.timer);
    let outcome: Outcome | null = null;
    let willRetry = false;
    if (r.abortedBy !== null) {
      // Canceled, removed or lease lost: the store already moved on; writing would be fenced anyway.
      outcome = null;
    } else if (!error) {
      outcome = { id: job.id, token: job.token, kind: 'completed', result: result === undefined ? null : result };
    } else {
      const retry = !(error instanceof UnrecoverableError) && !this.stoppingHard;
      let retryDelayMs: number | undefined;
      if (job.backoff?.type === 'custom') {
        const fn = this.backoffStrategies[job.backoff.name];
        if (fn) {
          try {
            retryDelayMs = Math.max(0, Math.round(fn(job.attempt, error, job)));
          } catch (e) {
            this.emitError(e);
          }
        }
      }
      willRetry = retry && job.attempt < job.maxAttempts;
      outcome = {
        id: job.id,
        token: job.token,
        kind: 'failed',
        error: { message: error.message || String(error), stack: error.stack ?? null },
        ...(retry ? {} : { retry: false }),
        ...(retryDelayMs === undefined ? {} : { retryDelayMs }),
      };
      if (this.stoppingHard) Object.assign(outcome, { release: true });
    }
    // The slot frees when the handler is done, not when its outcome lands: the next claim
    // then overlaps this finish (two round trips in flight instead of one after the other).
    // Outcomes still being written are bounded by `concurrency` (see loop()).
    this.release(r);
    this.writing++;
    try {
      if (outcome) {
        // Progress and logs written before the outcome must land first.
        await this.updater.drained();
        const applied = await this.finisher.add(outcome);
        if (applied) {
          if (outcome.kind === 'completed') {
            this.processed++;
            this.emit('completed', job, result);
          } else {
            this.failedCount++;
            this.emit('failed', job, error!, willRetry);
          }
        }
      }
    } catch (err) {
      // The store is unreachable: the lease will expire and another attempt will run.
      this.emitError(err);
    } finally {
      this.writing--;
      this.nudge();
    }
  }

  private release(r: Running): void {
    const { job } = r;
    this.running.delete(job.id);
    const n = (this.perName.get(job.name) ?? 1) - 1;
    if (n <= 0) this.perName.delete(job.name);
    else this.perName.set(job.name, n);
    this.nudge();
    if (this.running.size === 0) this.idleResolvers.splice(0).forEach((f) => f());
  }

  private idleResolvers: (() => void)[] = [];
  private stoppingHard = false;

  private onEvent(e: JobEvent): void {
    if (e.jobId === undefined) {
      if (e.type === 'resumed' && this.queues.includes(e.queue)) this.nudge();
      return;
    }
    if ((e.type === 'added' || e.type === 'promoted' || e.type === 'retrying') && this.queues.includes(e.queue)) {
      // Work that arrives between an empty claim and the store.wait() that follows would
      // otherwise sleep until idleMs: the store's wake-up fired before anyone waited.
      this.nudge();
      return;
    }
    if (e.type !== 'canceled' && e.type !== 'removed') return;
    const r = this.running.get(e.jobId);
    if (!r || r.abortedBy) return;
    r.abortedBy = e.type;
    this.abortJob(r, new AbortedError(e.type === 'canceled' ? `job canceled: ${e.message ?? 'canceled'}` : 'job removed'));
  }

  private async beat(): Promise<void> {
    const leases = [...this.running.values()].filter((r) => r.abortedBy === null).map((r) => ({ id: r.job.id, token: r.job.token }));
    try {
      if (leases.length > 0) {
        const held = await this.store.extend(leases, this.leaseMs);
        held.forEach((ok, i) => {
          if (ok) return;
          const r = this.running.get(leases[i].id);
          if (!r || r.abortedBy) return;
          r.abortedBy = 'lease';
          this.abortJob(r, new AbortedError('lease lost: the job was canceled, removed or taken over'));
        });
      }
      await this.store.reportWorker(this.info(), this.heartbeatMs * 3);
    } catch (err) {
      this.emitError(err);
    }
  }

  private emitError(err: unknown): void {
    if (this.listenerCount('error') > 0) this.emit('error', toError(err));
  }

  /**
   * Stops claiming, lets running jobs finish for up to the shutdown timeout, then aborts
   * the rest and hands them back for another attempt.
   */
  close(timeoutMs = this.shutdownTimeoutMs): Promise<void> {
    this.closing ??= this.doClose(timeoutMs);
    return this.closing;
  }

  private async doClose(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.nudge();
    await this.loopDone;
    if (this.running.size > 0) {
      const idle = new Promise<void>((r) => this.idleResolvers.push(r));
      const timer = new Promise<void>((r) => setTimeout(r, timeoutMs).unref());
      await Promise.race([idle, timer]);
      if (this.running.size > 0) {
        this.stoppingHard = true;
        const idle2 = new Promise<void>((r) => this.idleResolvers.push(r));
        for (const r of [...this.running.values()]) this.abortJob(r, new AbortedError('worker shutting down'));
        await Promise.race([idle2, new Promise<void>((r) => setTimeout(r, 2_000).unref())]);
      }
    }
    await this.finisher.drained();
    await this.updater.drained();
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.maintainTimer) clearInterval(this.maintainTimer);
    this.unsubscribe?.();
    await this.store.removeWorker(this.id).catch(() => {});
    for (const { runner } of this.runners.values()) await runner.close().catch(() => {});
    this.emit('closed');
  }
}

const WAKE = 'wake';

function isRunner(v: unknown): v is Runner {
  return typeof v === 'object' && v !== null && typeof (v as Runner).run === 'function' && typeof (v as Runner).close === 'function';
}

function positive(v: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValidationError(`${field} must be a positive integer`, field);
  return v;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
}
