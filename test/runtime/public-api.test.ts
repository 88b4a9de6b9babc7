/**
 * The public entry point stays small and loads no backend a user does not open.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const index = new URL('../../src/index.ts', import.meta.url).href;

test("import 'conveyor' loads neither ioredis, pg nor node:sqlite; openStore('memory') still does not", async () => {
  // A fresh process: the test runner itself may have loaded backends already.
  const probe = `
    import { createRequire } from 'node:module';
    const ioredis = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/ioredis/')).length;
    const sqlite = () => process.moduleLoadList.filter((m) => m.includes('sqlite')).length;
    const pg = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('/node_modules/pg/')).length;
    const api = await import(${JSON.stringify(index)});
    const after = { ioredis: ioredis(), sqlite: sqlite(), pg: pg() };
    const store = await api.openStore('memory');
    await store.close();
    const memory = { ioredis: ioredis(), sqlite: sqlite(), pg: pg() };
    const redisEntry = await import(${JSON.stringify(new URL('../../src/entries/redis.ts', import.meta.url).href)});
    const pgEntry = await import(${JSON.stringify(new URL('../../src/entries/postgres.ts', import.meta.url).href)});
    console.log(JSON.stringify({ after, memory, redis: typeof redisEntry.RedisStore, postgres: typeof pgEntry.PostgresStore, probeWorks: ioredis() > 0 && pg() > 0 }));
  `;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe]);
  assert.deepEqual(JSON.parse(stdout), { after: { ioredis: 0, sqlite: 0, pg: 0 }, memory: { ioredis: 0, sqlite: 0, pg: 0 }, redis: 'function', postgres: 'function', probeWorks: true });
});

test('the backend classes are reachable from their own entry points', async () => {
  const { MemoryStore } = await import('../../src/entries/memory.ts');
  const { SqliteStore } = await import('../../src/entries/sqlite.ts');
  const { RedisStore } = await import('../../src/entries/redis.ts');
  const { PostgresStore, migrate } = await import('../../src/entries/postgres.ts');
  assert.equal(new MemoryStore().kind, 'memory');
  assert.equal(typeof PostgresStore.connect, 'function');
  assert.equal(typeof migrate, 'function');
  assert.equal(typeof SqliteStore.open, 'function');
  assert.equal(typeof RedisStore.connect, 'function');
});

test('openStore refuses a URL of a scheme no store speaks, instead of taking it for a file name', async () => {
  const { openStore } = await import('../../src/index.ts');
  for (const spec of ['ftp://host/db', 'mysql://localhost/app', 'file:///tmp/x.db']) {
    await assert.rejects(openStore(spec), (err: Error) => err.name === 'ValidationError' && /no store speaks/.test(err.message), spec);
  }
  await assert.rejects(openStore(''), /store must be/);
});
