/** graphile-worker at its defaults (LISTEN/NOTIFY wake-ups). No bulk-add helper in 0.16: W1 adds a batch concurrently. */
import { Logger, makeWorkerUtils, run, type WorkerUtils } from 'graphile-worker';
import { PG_URL, tag, type Adapter } from './adapter.ts';

export function graphileWorker(): Adapter {
  const schema = tag().replace(/-/g, '_');
  const logger = new Logger(() => () => {});
  let utils: WorkerUtils;
  return {
    settings: 'defaults (W1: 1,000 concurrent addJob per batch)',
    async setup() {
      utils = await makeWorkerUtils({ connectionString: PG_URL, schema, logger });
      await utils.migrate();
    },
    async addBulk(items) {
      await Promise.all(items.map((data) => utils.addJob('job', data)));
    },
    async add(item) {
      await utils.addJob('job', item);
    },
    async work(concurrency, handler) {
      const runner = await run({ connectionString: PG_URL, schema, concurrency, noHandleSignals: true, logger, taskList: { job: async (payload) => handler(payload as Record<string, unknown>) } });
      return { close: () => runner.stop() };
    },
    async teardown() {
      await utils.release();
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
