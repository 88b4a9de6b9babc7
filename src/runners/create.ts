/**
 * One way to say where a job type runs: switching a handler between the worker's event
 * loop, a thread and a child process is a change of `kind`, nothing else.
 */
import { ValidationError } from '../core/errors.ts';
import { describe } from '../core/options.ts';
import { loadHandler } from './child/load-handler.ts';
import { exportNameOf, moduleUrl } from './child/runner-options.ts';
import { InlineRunner } from './inline.ts';
import { ProcessRunner, type ProcessRunnerOptions } from './process.ts';
import type { Runner } from './runner.ts';
import { ThreadRunner } from './thread.ts';

export type RunnerKind = 'inline' | 'thread' | 'process';

export interface CreateRunnerOptions extends ProcessRunnerOptions {
  kind: RunnerKind;
}

const POOL_ONLY = ['pool', 'isolate', 'graceMs'] as const;
const PROCESS_ONLY = ['execArgv', 'env'] as const;

export function createRunner(options: CreateRunnerOptions): Runner {
  if (options === null || typeof options !== 'object') throw new ValidationError('runner options must be an object', 'options');
  const { kind } = options;
  const misplaced = (keys: readonly string[]) => keys.find((k) => (options as unknown as Record<string, unknown>)[k] !== undefined);
  switch (kind) {
    case 'inline': {
      const key = misplaced([...POOL_ONLY, ...PROCESS_ONLY]);
      if (key) throw new ValidationError(`${key} applies to thread and process runners, not inline`, key);
      const url = moduleUrl(options.module);
      const exportName = exportNameOf(options.export);
      // Loaded on first use, like in a thread or child, so a bad export fails the job the same way.
      return new InlineRunner(async (job, ctx) => (await loadHandler(url, exportName))(job, ctx));
    }
    case 'thread': {
      const key = misplaced(PROCESS_ONLY);
      if (key) throw new ValidationError(`${key} applies to process runners, not thread`, key);
      return new ThreadRunner(options);
    }
    case 'process':
      return new ProcessRunner(options);
    default:
      throw new ValidationError(`kind must be "inline", "thread" or "process"; got ${describe(kind)}`, 'kind');
  }
}
