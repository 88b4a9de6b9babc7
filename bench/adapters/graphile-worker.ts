/**
 * graphile-worker at its defaults (LISTEN/NOTIFY wake-ups; no bulk-add helper in 0.16, so W1
 * adds a batch concurrently), or `fast`: batches through its SQL `add_jobs` function (documented
 * as experimental, there since 0.16's schema) and a 100 ms pollInterval.
 */
import { Logger, makeWorkerUtils, run, type WorkerUtils } from 'graphile-worker';
import { PG_URL, tag, type Adapter } from './adapter.ts';

export function graphileWorker(fast = false): Adapter {
  const schema = tag().replace(/-/g, '_');
  const logger = new Logger(() => () => {});
  let utils: WorkerUtils;
  return {
    settings: fast ? 'SQL add_jobs() per batch, pollInterval 100 ms' : 'defaults (W1: 1,000 concurrent addJob per batch)',
    async setup() {
      utils = await makeWorkerUtils({ connectionString: PG_URL, schema, logger });
      await utils.migrate();
    },
    async addBulk(items) {
      if (!fast) {
        await Promise.all(items.map((data) => utils.addJob('job', data)));
        return;
      }
      const specs = JSON.stringify(items.map((payload) => ({ identifier: 'job', payload })));
      await utils.withPgClient((client) =>
        client.query(`SELECT count(*) FROM ${schema}.add_jobs(ARRAY(SELECT json_populate_recordset(NULL::${schema}.job_spec, $1::json)))`, [specs]),
      );
    },
    async add(item) {
      await utils.addJob('job', item);
    },
    async work(concurrency, handler) {
      const runner = await run({ connectionString: PG_URL, schema, concurrency, noHandleSignals: true, logger, ...(fast && { pollInterval: 100 }), taskList: { job: async (payload) => handler(payload as Record<string, unknown>) } });
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
