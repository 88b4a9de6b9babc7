import type { Job } from '../core/job.ts';
import type { HandlerFn, JobContext, Runner } from './runner.ts';

/** Runs the handler on the worker's own event loop: the fastest runner, for I/O-bound work. */
export class InlineRunner implements Runner {
  readonly kind = 'inline';
  private readonly fn: HandlerFn;
  constructor(fn: HandlerFn) {
    this.fn = fn;
  }

  async run(job: Job, ctx: JobContext): Promise<unknown> {
    return this.fn(job, ctx);
  }

  async close(): Promise<void> {}
}
