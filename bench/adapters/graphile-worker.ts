/**
 * graphile-worker at its defaults (LISTEN/NOTIFY wake-ups; W1 through its bulk `addJobs`), or
 * `fast`: its batched mode as its performance docs describe it: a local queue that locks and
 * fetches 500 jobs at a time, completions batched per tick (completeJobBatchDelay 0), and a
 * 100 ms pollInterval.
 */
import { Logger, makeWorkerUtils, run, type WorkerUtils } from 'graphile-worker';
import { PG_URL, tag, type Adapter } from './adapter.ts';
import { dropSchema } from './pg-schema.ts';

export function graphileWorker(fast = false): Adapter {
  const schema = tag().replace(/-/g, '_');
  const logger = new Logger(() => () => {});
  let utils: WorkerUtils;
  return {
    settings: fast ? 'localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0, pollInterval 100 ms' : 'defaults (W1: addJobs per batch)',
    schema,
    async setup() {
      utils = await makeWorkerUtils({ connectionString: PG_URL, schema, logger });
      await utils.migrate();
    },
    async addBulk(items) {
      await utils.addJobs(items.map((payload) => ({ identifier: 'job', payload })));
    },
    async add(item) {
      await utils.addJob('job', item);
    },
    async work(concurrency, handler) {
      const runner = await run({
        connectionString: PG_URL,
        schema,
        concurrency,
        noHandleSignals: true,
        logger,
        ...(fast && { pollInterval: 100, preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } } }),
        taskList: { job: async (payload) => handler(payload as Record<string, unknown>) },
      });
      return { close: () => runner.stop() };
    },
    async teardown() {
      await utils.release();
      await dropSchema(schema);
    },
  };
}
