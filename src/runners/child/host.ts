/**
 * One worker thread or child process, seen from the parent: it runs one job at a time,
 * turns the child's messages and output into calls on the job's context, and settles the
 * job when the child reports its outcome (and its output is complete), when the child
 * dies, or when a stop ends it. ThreadHost and ProcessHost only say how to talk to, stop
 * and kill their kind of child.
 */
import { AbortedError } from '../../core/errors.ts';
import type { Job, LogStream } from '../../core/job.ts';
import type { JobContext } from '../runner.ts';
import { LineSplitter } from './line-splitter.ts';
import type { ChildMessage, DoneMessage, ParentMessage } from './protocol.ts';
import { fromWire } from './wire-error.ts';

/**
 * How long to wait, after the outcome arrives, for the end markers on stdout and stderr.
 * They are written before the outcome is sent, so they come at once unless the handler
 * broke its own output streams; then the job settles without them and the host is retired.
 */
const OUTPUT_WAIT_MS = 2_000;

export interface HostOptions {
  /** file: URL of the handler module. */
  module: string;
  export: string;
  /** How long a stopped job may take to end before its host is killed. */
  graceMs: number;
}

export interface HostExit {
  kind: 'thread' | 'process';
  /** pid of a process, threadId of a thread. */
  id: number;
  code: number | null;
  signal: string | null;
  /** The host was ended by a stop or by close(), not by its own doing. */
  stopped: boolean;
}

/** The thread or child ended while a job ran on it. Retried like any other failure. */
export class ChildExitError extends Error {
  readonly exitCode: number | null;
  readonly signal: string | null;
  constructor(message: string, exitCode: number | null, signal: string | null) {
    super(message);
    this.name = 'ChildExitError';
    this.exitCode = exitCode;
    this.signal = signal;
  }
}

interface Running {
  seq: number;
  ctx: JobContext;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  done: DoneMessage | null;
  /** End markers seen, out of two (stdout, stderr). */
  ended: number;
  stopReason: Error | null;
  onAbort: () => void;
  outputWait: ReturnType<typeof setTimeout> | null;
}

export abstract class Host {
  abstract readonly kind: 'thread' | 'process';
  abstract readonly id: number;
  /** Takes no new job: it crashed, was stopped, or is shutting down. */
  retired = false;
  /** Called once, when the thread or child is gone. */
  onExit: ((exit: HostExit) => void) | null = null;
  protected readonly out: Record<'stdout' | 'stderr', LineSplitter>;
  /** An uncaught error the child reported before dying. */
  protected fatal: Error | null = null;
  private readonly options: HostOptions;
  private job: Running | null = null;
  private seq = 0;
  private exited = false;
  private stopped = false;
  private killTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly gone: Promise<void>;
  private markGone!: () => void;

  constructor(options: HostOptions) {
    this.options = options;
    this.out = { stdout: this.splitter('stdout'), stderr: this.splitter('stderr') };
    this.gone = new Promise((resolve) => (this.markGone = resolve));
  }

  /** Sends a message to the thread or child. */
  protected abstract post(m: ParentMessage): void;
  /** Asks the child to stop its job: the handler's signal fires with this reason. */
  protected abstract askStop(seq: number, reason: Error): void;
  /** Ends the child politely (it is idle, or its stopped job has returned). */
  protected abstract end(): void;
  /** Ends the child now, whatever it is doing. */
  protected abstract kill(): void;
  /** Whether this child alone keeps the parent's event loop alive. */
  abstract setRef(on: boolean): void;

  get busy(): boolean {
    return this.job !== null;
  }

  run(job: Job, ctx: JobContext): Promise<unknown> {
    if (this.retired || this.job) return Promise.reject(new Error(`${this.kind} ${this.id} cannot take a job now`));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const r: Running = { seq, ctx, resolve, reject, done: null, ended: 0, stopReason: null, onAbort: () => {}, outputWait: null };
      r.onAbort = () => this.stop(r, toError(ctx.signal.reason));
      this.job = r;
      // The lease token stays with the Worker: the handler has no use for it.
      const { token: _token, ...plain } = job as Job & { token?: string };
      try {
        this.post({ type: 'run', seq, module: this.options.module, export: this.options.export, job: plain });
      } catch (err) {
        this.job = null;
        this.retired = true;
        this.end();
        return reject(toError(err));
      }
      if (ctx.signal.aborted) r.onAbort();
      else ctx.signal.addEventListener('abort', r.onAbort, { once: true });
    });
  }

  /** Stops the running job (or ends the idle child); resolves when the child is gone. */
  shutdown(reason: Error = new AbortedError('runner closed')): Promise<void> {
    if (!this.exited) {
      if (this.job) {
        this.stop(this.job, reason);
      } else {
        this.retired = true;
        this.stopped = true;
        this.end();
        this.armKill();
      }
    }
    return this.gone;
  }

  protected received(m: ChildMessage): void {
    if (m.type === 'fatal') {
      this.fatal = fromWire(m.error);
      return;
    }
    const r = this.job;
    if (!r || m.seq !== r.seq) return;
    if (m.type === 'progress') quietly(() => r.ctx.progress(m.percent, m.message));
    else if (m.type === 'log') quietly(() => r.ctx.log(m.line, m.stream));
    else if (m.type === 'done') {
      r.done = m;
      this.settleWhenComplete(r);
    }
  }

  /** The child is gone and its output streams are drained. */
  protected exitedWith(code: number | null, signal: string | null): void {
    if (this.exited) return;
    this.exited = true;
    this.retired = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.out.stdout.flush();
    this.out.stderr.flush();
    const r = this.job;
    if (r && (r.stopReason || r.done)) this.settle(r);
    else if (r) this.fail(r, this.exitError(code, signal));
    this.markGone();
    this.onExit?.({ kind: this.kind, id: this.id, code, signal, stopped: this.stopped });
  }

  private splitter(stream: LogStream): LineSplitter {
    return new LineSplitter(
      (line, seq) => {
        const r = this.job;
        if (r && seq === r.seq) quietly(() => r.ctx.log(line, stream));
      },
      (seq) => {
        const r = this.job;
        if (!r || seq !== r.seq) return;
        r.ended++;
        this.settleWhenComplete(r);
      },
    );
  }

  private settleWhenComplete(r: Running): void {
    if (!r.done) return;
    if (r.ended >= 2) return this.settle(r);
    r.outputWait ??= setTimeout(() => {
      this.retired = true;
      this.settle(r);
      if (!this.exited) this.end();
    }, OUTPUT_WAIT_MS);
  }

  private stop(r: Running, reason: Error): void {
    if (r.stopReason || this.job !== r) return;
    r.stopReason = reason;
    this.retired = true;
    this.stopped = true;
    quietly(() => this.askStop(r.seq, reason));
    this.armKill();
  }

  private armKill(): void {
    if (this.exited || this.killTimer) return;
    if (this.options.graceMs === 0) return this.kill();
    this.killTimer = setTimeout(() => this.kill(), this.options.graceMs);
  }

  private settle(r: Running): void {
    if (r.stopReason) {
      this.fail(r, r.stopReason);
      // A stopped child is never reused; the kill timer stays armed in case it lingers.
      if (!this.exited) this.end();
      return;
    }
    const d = r.done!;
    this.release(r);
    if (d.ok) r.resolve(d.result);
    else r.reject(fromWire(d.error));
  }

  private fail(r: Running, error: Error): void {
    this.release(r);
    r.reject(error);
  }

  private release(r: Running): void {
    if (this.job === r) this.job = null;
    if (r.outputWait) clearTimeout(r.outputWait);
    r.ctx.signal.removeEventListener('abort', r.onAbort);
  }

  private exitError(code: number | null, signal: string | null): ChildExitError {
    const who = this.kind === 'process' ? `child process ${this.id}` : `worker thread ${this.id}`;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    const why = this.fatal ? ` after an uncaught ${this.fatal.name}: ${this.fatal.message}` : '';
    const err = new ChildExitError(`${who} ${how}${why} before the job finished`, code, signal);
    if (this.fatal?.stack) err.stack = `${err.name}: ${err.message}\n  caused by ${this.fatal.stack}`;
    return err;
  }
}

function toError(v: unknown): Error {
  return v instanceof Error ? v : new AbortedError(typeof v === 'string' ? v : 'job stopped');
}

/** The parent context may refuse a value (bad progress): that must not break the pipe. */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // The child validated already; a refusal here only drops one update.
  }
}
