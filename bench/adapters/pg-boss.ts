/**
 * pg-boss at its defaults (2 s polling; the worker fetches `concurrency` jobs per batch), or
 * `fast`: the shortest polling interval it accepts (0.5 s) and batches of 1,000, since one
 * worker fetches one batch per poll.
 */
import PgBoss from 'pg-boss';
import { PG_URL, tag, type Adapter } from './adapter.ts';

export function pgBoss(fast = false): Adapter {
  const schema = tag().replace(/-/g, '_');
  let boss: PgBoss;
  return {
    settings: fast ? 'pollingIntervalSeconds 0.5 (its minimum), batchSize 1,000' : 'defaults (polling 2 s; batchSize = concurrency)',
    async setup() {
      boss = new PgBoss({ connectionString: PG_URL, schema });
      boss.on('error', () => {});
      await boss.start();
      await boss.createQueue('job');
    },
    async addBulk(items) {
      await boss.insert(items.map((data) => ({ name: 'job', data })));
    },
    async add(item) {
      await boss.send('job', item);
    },
    async work(concurrency, handler) {
      const options = fast ? { pollingIntervalSeconds: 0.5, batchSize: 1000 } : { batchSize: concurrency };
      await boss.work('job', options, async (jobs) => {
        for (const job of jobs) handler(job.data as Record<string, unknown>);
      });
      return { close: async () => {} };
    },
    async teardown() {
      await boss.stop({ graceful: false, wait: true });
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
