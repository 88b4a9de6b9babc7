/**
 * Where a handler runs. The Worker hands every claimed job to a Runner and awaits its
 * result; the Runner decides whether that is this event loop, a worker thread or a child
 * process. Progress and log lines flow back through the context.
 */
import type { Job, LogStream } from '../core/job.ts';

export interface JobContext {
  /** Fires when the job is canceled, times out, loses its lease, or the worker shuts down hard. */
  signal: AbortSignal;
  /** Reports progress (0-100) and an optional message ("resizing 3/10"). */
  progress(percent: number, message?: string | null): void;
  /** Appends a line to the job's logs. */
  log(line: string, stream?: LogStream): void;
}

export type HandlerFn<Data = any, Result = unknown> = (job: Job<Data>, ctx: JobContext) => Promise<Result> | Result;

export interface Runner {
  readonly kind: string;
  run(job: Job, ctx: JobContext): Promise<unknown>;
  close(): Promise<void>;
}
