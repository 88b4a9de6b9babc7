/**
 * Runs handlers in child processes: a crash, a leak or a native abort ends the child, not
 * the worker. stdout and stderr are captured line by line into the job's logs; a stop
 * sends SIGTERM, then SIGKILL after the grace period.
 */
import { ValidationError } from '../core/errors.ts';
import { PooledRunner } from './child/pooled-runner.ts';
import { ProcessHost } from './child/process-host.ts';
import type { PooledRunnerOptions } from './child/runner-options.ts';

export interface ProcessRunnerOptions extends PooledRunnerOptions {
  /** Node options for the children (default none: not the parent's, which may hold --inspect or --test flags). */
  execArgv?: string[];
  /** Environment of the children (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export class ProcessRunner extends PooledRunner {
  readonly kind = 'process';
  private readonly execArgv: string[];
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(options: ProcessRunnerOptions) {
    super(options);
    if (options.execArgv !== undefined && (!Array.isArray(options.execArgv) || !options.execArgv.every((a) => typeof a === 'string'))) {
      throw new ValidationError('execArgv must be a list of strings', 'execArgv');
    }
    if (options.env !== undefined && (options.env === null || typeof options.env !== 'object')) throw new ValidationError('env must be an object', 'env');
    this.execArgv = options.execArgv ?? [];
    this.env = options.env;
  }

  protected spawn(): ProcessHost {
    return new ProcessHost({ ...this.options, execArgv: this.execArgv, env: this.env });
  }
}
