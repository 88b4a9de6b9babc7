/**
 * BullMQ 6 on its PostgreSQL backend (createPostgresBackend), at its defaults, or `fast`:
 * jobs removed on completion and failure, as for BullMQ on Redis.
 */
import { createPostgresBackend, Queue, Worker } from 'bullmq';
import { PG_URL, tag, type Adapter } from './adapter.ts';
import { dropSchema } from './pg-schema.ts';

export function bullmqPostgres(fast = false): Adapter {
  const schema = tag().replace(/-/g, '_');
  const connection = { connectionString: PG_URL, schema, migrate: true };
  let queue: Queue;
  return {
    settings: fast ? 'PostgreSQL backend, removeOnComplete/removeOnFail' : 'PostgreSQL backend, defaults',
    schema,
    async setup() {
      queue = new Queue('bench', { connection, ...(fast && { defaultJobOptions: { removeOnComplete: true, removeOnFail: true } }) } as never, createPostgresBackend as never);
      await queue.waitUntilReady();
    },
    async addBulk(items) {
      await queue.addBulk(items.map((data) => ({ name: 'job', data })));
    },
    async add(item) {
      await queue.add('job', item);
    },
    async work(concurrency, handler) {
      const worker = new Worker('bench', async (job) => handler(job.data), { connection, concurrency } as never, createPostgresBackend as never);
      await worker.waitUntilReady();
      return { close: () => worker.close() };
    },
    async teardown() {
      await queue.close();
      await dropSchema(schema);
    },
  };
}
