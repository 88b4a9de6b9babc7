/**
 * The child side of a job, shared by the thread and the process bootstraps: builds a
 * JobContext whose calls become messages to the parent, runs the handler, and reports
 * the outcome. One job at a time per thread or child.
 */
import { AbortedError, ValidationError } from '../../core/errors.ts';
import type { LogStream } from '../../core/job.ts';
import type { JobContext } from '../runner.ts';
import { loadHandler } from './load-handler.ts';
import { marker, type ChildMessage, type DoneMessage, type ParentMessage } from './protocol.ts';
import { toWire } from './wire-error.ts';

const STREAMS: readonly LogStream[] = ['log', 'stdout', 'stderr'];

export class JobExecutor {
  private current: { seq: number; abort: AbortController } | null = null;
  private readonly send: (m: ChildMessage) => Promise<void>;

  constructor(send: (m: ChildMessage) => Promise<void>) {
    this.send = send;
  }

  get busy(): boolean {
    return this.current !== null;
  }

  async run(m: Extract<ParentMessage, { type: 'run' }>): Promise<void> {
    const { seq } = m;
    const abort = new AbortController();
    this.current = { seq, abort };
    const post = (msg: ChildMessage) => void this.send(msg).catch(() => {});
    const ctx: JobContext = {
      signal: abort.signal,
      progress(percent, message) {
        if (typeof percent !== 'number' || !Number.isFinite(percent)) throw new ValidationError('progress must be a number from 0 to 100', 'progress');
        post({ type: 'progress', seq, percent, ...(message === undefined ? {} : { message: message === null ? null : String(message) }) });
      },
      log(line, stream = 'log') {
        if (!STREAMS.includes(stream)) throw new ValidationError(`log stream must be one of ${STREAMS.join(', ')}`, 'stream');
        post({ type: 'log', seq, line: String(line), stream });
      },
    };
    writeMarkers('start', seq);
    let done: DoneMessage;
    try {
      const fn = await loadHandler(m.module, m.export);
      done = { type: 'done', seq, ok: true, result: await fn(m.job, ctx) };
    } catch (err) {
      done = { type: 'done', seq, ok: false, error: toWire(err) };
    }
    this.current = null;
    writeMarkers('end', seq);
    try {
      await this.send(done);
    } catch (err) {
      // Most often a result that structured clone refuses (a function, a socket...).
      await this.send({ type: 'done', seq, ok: false, error: toWire(new Error(`the job's result could not be sent to the parent: ${(err as Error).message}`)) });
    }
  }

  /** Fires the running handler's signal; a stale seq (the job already ended) is ignored. */
  abort(seq: number | null, reason: Error = new AbortedError('job stopped')): void {
    if (this.current && (seq === null || this.current.seq === seq)) this.current.abort.abort(reason);
  }
}

function writeMarkers(kind: 'start' | 'end', seq: number): void {
  const m = marker(kind, seq);
  process.stdout.write(m);
  process.stderr.write(m);
}
