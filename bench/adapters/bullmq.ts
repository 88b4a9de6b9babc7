/**
 * BullMQ at its documented defaults (jobs kept after completion), or `fast`: jobs removed on
 * completion and failure, as BullMQ's docs ("Auto-removal of jobs") advise for production.
 */
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { REDIS_URL, tag, type Adapter } from './adapter.ts';

export function bullmq(fast = false): Adapter {
  const name = tag();
  const connection = () => new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  let queue: Queue;
  return {
    settings: fast ? 'defaultJobOptions {removeOnComplete: true, removeOnFail: true}' : 'defaults',
    async setup() {
      queue = new Queue(name, { connection: connection(), ...(fast && { defaultJobOptions: { removeOnComplete: true, removeOnFail: true } }) });
    },
    async addBulk(items) {
      await queue.addBulk(items.map((data) => ({ name: 'job', data })));
    },
    async add(item) {
      await queue.add('job', item);
    },
    async work(concurrency, handler) {
      const worker = new Worker(name, async (job) => handler(job.data), { connection: connection(), concurrency });
      await worker.waitUntilReady();
      return { close: () => worker.close() };
    },
    async teardown() {
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}
