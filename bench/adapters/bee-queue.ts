/** bee-queue at its defaults, or `fast`: the settings its README names for memory and speed (no events, no stored jobs). */
import BeeQueue from 'bee-queue';
import { REDIS_URL, tag, type Adapter } from './adapter.ts';

export function beeQueue(fast = false): Adapter {
  const tuned = fast ? { storeJobs: false, removeOnSuccess: true, sendEvents: false, getEvents: false } : {};
  const name = tag();
  let queue: BeeQueue;
  return {
    settings: fast ? '{storeJobs: false, removeOnSuccess: true, sendEvents: false, getEvents: false}' : 'defaults',
    async setup() {
      queue = new BeeQueue(name, { redis: { url: REDIS_URL }, isWorker: false, ...tuned });
      await queue.ready();
    },
    async addBulk(items) {
      await queue.saveAll(items.map((data) => queue.createJob(data)));
    },
    async add(item) {
      await queue.createJob(item).save();
    },
    async work(concurrency, handler) {
      const worker = new BeeQueue(name, { redis: { url: REDIS_URL }, ...tuned });
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
