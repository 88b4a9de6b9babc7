/** Conveyor on memory, SQLite, Redis or PostgreSQL, at its defaults; SQLite optionally with durability 'power'. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, Queue, Worker, type Store } from '../../src/index.ts';
import { PG_URL, REDIS_URL, tag, type Adapter } from './adapter.ts';
import { dropSchema } from './pg-schema.ts';
import { dropRedisPrefix } from './redis-keys.ts';

export function conveyor(kind: 'memory' | 'sqlite' | 'redis' | 'postgres', options: { durability?: 'process' | 'power' } = {}): Adapter {
  let store: Store;
  let queue: Queue;
  let dir = '';
  const prefix = tag();
  const schema = prefix.replace(/-/g, '_');
  return {
    ...(kind === 'postgres' ? { schema } : {}),
    settings:
      kind !== 'sqlite'
        ? 'defaults'
        : options.durability === 'power'
          ? "durability 'power' (WAL, synchronous=FULL: survives power loss)"
          : "durability 'process' (WAL, synchronous=NORMAL: survives kill -9)",
    async setup() {
      if (kind === 'sqlite') dir = mkdtempSync(join(tmpdir(), 'conveyor-bench-'));
      const spec = kind === 'memory' ? 'memory' : kind === 'redis' ? REDIS_URL : kind === 'postgres' ? PG_URL : join(dir, 'bench.db');
      store = await openStore(spec, { prefix, schema, ...options });
      queue = new Queue(store, 'bench');
    },
    async addBulk(items, groups) {
      await queue.addBulk(items.map((data, i) => ({ name: 'job', data, ...(groups ? { opts: { group: groups[i] } } : {}) })));
    },
    async add(item) {
      await queue.add('job', item);
    },
    async work(concurrency, handler) {
      const worker = new Worker(store, { queues: ['bench'], concurrency, handlers: { job: (job) => handler(job.data as Record<string, unknown>) } });
      await worker.start();
      return { close: () => worker.close() };
    },
    async teardown() {
      await store.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (kind === 'postgres') await dropSchema(schema);
      if (kind === 'redis') await dropRedisPrefix(prefix);
    },
  };
}
