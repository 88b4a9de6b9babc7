/**
 * A quick look at the SQLite store's hot paths (not the peer benchmark of issue 8):
 *   ./node_modules/.bin/node bench/sqlite-smoke.ts [jobs]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildNewJob } from '../src/core/options.ts';
import { SqliteStore } from '../src/stores/sqlite/sqlite-store.ts';

const N = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'conveyor-smoke-'));
const store = SqliteStore.open(join(dir, 'smoke.db'));
const payload = { s: 'x'.repeat(100) };
let t = performance.now();
for (let i = 0; i < N; i += 1000) {
  const jobs = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) jobs.push(buildNewJob('smoke', 'noop', { i: k, ...payload }));
  await store.enqueue(jobs);
}
const enqueueRate = N / ((performance.now() - t) / 1000);
t = performance.now();
for (;;) {
  const claimed = await store.claim({ queues: ['smoke'], workerId: 'w', limit: 100, leaseMs: 30_000 });
  if (claimed.length === 0) break;
  await store.finish(claimed.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
}
const processRate = N / ((performance.now() - t) / 1000);
console.log(`SQLite (durability 'process'), ${N} jobs: enqueue in batches of 1000: ${Math.round(enqueueRate)} jobs/s; claim 100 + finish 100: ${Math.round(processRate)} jobs/s`);
await store.close();
rmSync(dir, { recursive: true, force: true });
