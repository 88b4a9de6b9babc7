/**
 * pg-boss at its defaults (2 s polling; the worker fetches `concurrency` jobs per batch), or
 * `fast`: what its docs name for throughput: LISTEN/NOTIFY wake-ups (useListenNotify and a
 * notify queue), batches of 1,000 fetched back to back while they come back full
 * (burstWhenBatchFull), and its shortest poll (0.5 s).
 */
import { PgBoss } from 'pg-boss';
import { PG_URL, tag, type Adapter } from './adapter.ts';
import { dropSchema } from './pg-schema.ts';

export function pgBoss(fast = false): Adapter {
  const schema = tag().replace(/-/g, '_');
  let boss: PgBoss;
  return {
    settings: fast ? 'useListenNotify + notify queue, batchSize 1,000, burstWhenBatchFull, polling 0.5 s' : 'defaults (polling 2 s; batchSize = concurrency)',
    schema,
    async setup() {
      boss = new PgBoss({ connectionString: PG_URL, schema, ...(fast && { useListenNotify: true }) });
      boss.on('error', () => {});
      await boss.start();
      await boss.createQueue('job', fast ? { notify: true } : {});
    },
    async addBulk(items) {
      await boss.insert('job', items.map((data) => ({ data })));
    },
    async add(item) {
      await boss.send('job', item);
    },
    async work(concurrency, handler) {
      const options = fast ? { pollingIntervalSeconds: 0.5, batchSize: 1000, burstWhenBatchFull: true } : { batchSize: concurrency };
      await boss.work('job', options, async (jobs) => {
        for (const job of jobs) handler(job.data as Record<string, unknown>);
      });
      return { close: async () => {} };
    },
    async teardown() {
      await boss.stop({ graceful: false, wait: true });
      await dropSchema(schema);
    },
  };
}
