/** bee-queue at its defaults. */
import BeeQueue from 'bee-queue';
import { REDIS_URL, tag, type Adapter } from './adapter.ts';

export function beeQueue(): Adapter {
  const name = tag();
  let queue: BeeQueue;
  return {
    settings: 'defaults',
    async setup() {
      queue = new BeeQueue(name, { redis: { url: REDIS_URL }, isWorker: false });
      await queue.ready();
    },
    async addBulk(items) {
      await queue.saveAll(items.map((data) => queue.createJob(data)));
    },
    async add(item) {
      await queue.createJob(item).save();
    },
    async work(concurrency, handler) {
      const worker = new BeeQueue(name, { redis: { url: REDIS_URL } });
      await worker.ready();
      worker.process(concurrency, async (job: { data: Record<string, unknown> }) => handler(job.data));
      return { close: () => worker.close() };
    },
    async teardown() {
      await queue.destroy();
      await queue.close();
    },
  };
}
