/**
 * Runs handlers on worker threads, for CPU-bound work: a handler may block its thread for
 * minutes while the worker's own event loop keeps heartbeating its leases. A stop posts
 * an abort (the handler's signal fires), then terminates the thread after the grace period.
 */
import { PooledRunner } from './child/pooled-runner.ts';
import type { PooledRunnerOptions } from './child/runner-options.ts';
import { ThreadHost } from './child/thread-host.ts';

export type ThreadRunnerOptions = PooledRunnerOptions;

export class ThreadRunner extends PooledRunner {
  readonly kind = 'thread';

  protected spawn(): ThreadHost {
    return new ThreadHost(this.options);
  }
}
