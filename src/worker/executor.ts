/**
 * Runs claimed jobs through their type's runner and turns each end (a result, a thrown
 * error, a timeout, an abort from outside) into one decided outcome. A slot is held from
 * `run` until the job settles; the handler's AbortSignal fires on timeout, cancel, removal
 * and lost lease, and the slot frees at once even if the handler ignores it.
 */
import type { Clock, Timer } from '../core/clock.ts';
import { TimeoutError, UnrecoverableError, ValidationError } from '../core/errors.ts';
import type { ClaimedJob, LogStream } from '../core/job.ts';
import { decideFailure } from '../engine/transitions.ts';
import { startAttemptSpan, type AttemptSpan } from '../telemetry/tracing.ts';
import type { JobContext } from '../runners/runner.ts';
import type { JobUpdate, Lease, Outcome } from '../stores/store.ts';
import type { BackoffFn, TypeRunner } from './options.ts';

/** Why a job was aborted from outside: its outcome is then not ours to write. */
export type AbortCause = 'canceled' | 'removed' | 'lease';

interface Running {
  job: ClaimedJob;
  /** Made on first use: most handlers never look at their signal. */
  controller: AbortController | null;
  timer: Timer | null;
  /** Settled once: by the handler, or first by an abort (a handler may ignore its signal). */
  settled: boolean;
  abortedBy: AbortCause | null;
  /** The attempt's OpenTelemetry span (null: tracing is off). */
  span: AttemptSpan | null;
}

/** How a job ended: the outcome to write (null: none, the store moved on) and what the handler gave. */
export interface Settlement {
  job: ClaimedJob;
  outcome: Outcome | null;
  error: Error | null;
  result: unknown;
  willRetry: boolean;
}

export interface ExecutorDeps {
  runners: ReadonlyMap<string, TypeRunner>;
  backoffStrategies: Record<string, BackoffFn>;
  clock: Clock;
  workerName: string;
  /** Progress and log lines from a handler. */
  report(update: JobUpdate): void;
  /** A job's slot is free; its outcome still has to be written. */
  settled(s: Settlement): void;
  onError(err: unknown): void;
}

export class Executor {
  private readonly deps: ExecutorDeps;
  private readonly running = new Map<string, Running>();
  /** Running jobs per name, for types with their own concurrency. */
  readonly byName = new Map<string, number>();
  /** Set at a hard shutdown: failures then hand jobs back instead of spending an attempt. */
  releasing = false;

  constructor(deps: ExecutorDeps) {
    this.deps = deps;
  }

  get size(): number {
    return this.running.size;
  }

  has(id: string): boolean {
    return this.running.has(id);
  }

  ids(): string[] {
    return [...this.running.keys()];
  }

  /** Leases of running jobs not aborted from outside (those are lost already). */
  leases(): Lease[] {
    const out: Lease[] = [];
    for (const r of this.running.values()) if (r.abortedBy === null) out.push({ id: r.job.id, token: r.job.token });
    return out;
  }

  run(job: ClaimedJob): void {
    const entry = this.deps.runners.get(job.name) ?? this.deps.runners.get('*');
    const r: Running = { job, controller: null, timer: null, settled: false, abortedBy: null, span: startAttemptSpan(job) };
    this.running.set(job.id, r);
    this.byName.set(job.name, (this.byName.get(job.name) ?? 0) + 1);
    if (!entry) {
      this.settle(r, new UnrecoverableError(`no handler for job type "${job.name}" on worker ${this.deps.workerName}`));
      return;
    }
    if (job.timeoutMs !== null) {
      r.timer = this.deps.clock.setTimer(() => this.abort(r, new TimeoutError(`job timed out after ${job.timeoutMs} ms`)), job.timeoutMs);
    }
    let run: Promise<unknown>;
    try {
      const start = () => entry.runner.run(job, this.context(r));
      run = Promise.resolve(r.span ? r.span.run(start) : start());
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (result) => this.settle(r, null, result),
      (err) => this.settle(r, toError(err)),
    );
  }

  /** The job was canceled, removed or its lease lost: abort it and write nothing. */
  abortFromOutside(id: string, cause: AbortCause, reason: Error): void {
    const r = this.running.get(id);
    if (!r || r.abortedBy) return;
    r.abortedBy = cause;
    this.abort(r, reason);
  }

  abortAll(reason: Error): void {
    for (const r of [...this.running.values()]) this.abort(r, reason);
  }

  private context(r: Running): JobContext {
    const { job } = r;
    const signalOf = () => (r.controller ??= new AbortController()).signal;
    return {
      get signal() {
        return signalOf();
      },
      progress: (percent, message) => {
        if (typeof percent !== 'number' || !Number.isFinite(percent)) throw new ValidationError('progress must be a number from 0 to 100', 'progress');
        this.deps.report({ id: job.id, token: job.token, progress: percent, ...(message === undefined ? {} : { message }) });
      },
      log: (line, stream: LogStream = 'log') => {
        this.deps.report({ id: job.id, token: job.token, logs: [{ stream, line: String(line) }] });
      },
    };
  }

  private abort(r: Running, reason: Error): void {
    r.controller ??= new AbortController();
    if (!r.controller.signal.aborted) r.controller.abort(reason);
    this.settle(r, reason);
  }

  private settle(r: Running, error: Error | null, result?: unknown): void {
    if (r.settled) return;
    r.settled = true;
    r.timer?.cancel();
    const { job } = r;
    let outcome: Outcome | null = null;
    let willRetry = false;
    if (r.abortedBy !== null) {
      // Canceled, removed or lease lost: the store already moved on; writing would be fenced anyway.
    } else if (!error) {
      outcome = { id: job.id, token: job.token, kind: 'completed', result: result === undefined ? null : result };
    } else {
      const next = decideFailure(
        job,
        { retry: !(error instanceof UnrecoverableError), release: this.releasing, ...this.customDelay(job, error) },
        this.deps.clock.now(),
      );
      willRetry = next.state !== 'failed';
      outcome = { id: job.id, token: job.token, kind: 'failed', error: { message: error.message || String(error), stack: error.stack ?? null }, next };
    }
    r.span?.end(r.abortedBy !== null ? 'aborted' : !error ? 'completed' : willRetry ? 'retrying' : 'failed', error);
    this.running.delete(job.id);
    const n = (this.byName.get(job.name) ?? 1) - 1;
    if (n <= 0) this.byName.delete(job.name);
    else this.byName.set(job.name, n);
    this.deps.settled({ job, outcome, error, result, willRetry });
  }

  /** A job whose backoff names a function this worker registered: the function's delay. */
  private customDelay(job: ClaimedJob, error: Error): { retryDelayMs?: number } {
    if (job.backoff?.type !== 'custom') return {};
    const fn = this.deps.backoffStrategies[job.backoff.name];
    if (!fn) return {};
    try {
      return { retryDelayMs: Math.max(0, Math.round(fn(job.attempt, error, job))) };
    } catch (e) {
      this.deps.onError(e);
      return {};
    }
  }
}

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(typeof err === 'string' ? err : JSON.stringify(err));
}
