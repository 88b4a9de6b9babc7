/** plainjob on better-sqlite3 at its defaults (one job at a time per worker; 1 s poll). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { better, defineQueue, defineWorker } from 'plainjob';
import type { Adapter } from './adapter.ts';

export function plainjob(): Adapter {
  let dir = '';
  let db: { close(): void };
  let queue: ReturnType<typeof defineQueue>;
  const logger = { info() {}, warn() {}, error() {}, debug() {} };
  return {
    settings: 'defaults (no worker concurrency option: one job at a time)',
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'plainjob-bench-'));
      db = new Database(join(dir, 'bench.db'));
      queue = defineQueue({ connection: better(db), logger });
    },
    async addBulk(items) {
      queue.addMany('job', items);
    },
    async add(item) {
      queue.add('job', item);
    },
    async work(_concurrency, handler) {
      const worker = defineWorker('job', async (job) => handler(JSON.parse(job.data as string)), { queue, logger });
      void worker.start();
      return { close: () => worker.stop() };
    },
    async teardown() {
      queue.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
