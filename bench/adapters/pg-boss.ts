/** pg-boss at its defaults (2 s polling); the worker fetches `concurrency` jobs per batch. */
import PgBoss from 'pg-boss';
import { PG_URL, tag, type Adapter } from './adapter.ts';

export function pgBoss(): Adapter {
  const schema = tag().replace(/-/g, '_');
  let boss: PgBoss;
  return {
    settings: 'defaults (polling 2 s; batchSize = concurrency)',
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
      await boss.work('job', { batchSize: concurrency }, async (jobs) => {
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
