/**
 * A worker started while its Redis is down waits for it (saying so) and then works; with
 * --wait-for-store it gives up after that long with exit 2.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { cli, CLI } from '../helpers/cli.ts';
import { spawnTs } from '../helpers/procs.ts';
import { OwnRedis } from './own-redis.ts';

const handlers = new URL('../fixtures/cli/jobs.ts', import.meta.url).pathname;
const servers: OwnRedis[] = [];
after(async () => {
  for (const r of servers) await r.stop();
});

test('a worker waits for a Redis that is not up yet, then runs its jobs', async () => {
  const redis = await OwnRedis.reserve();
  servers.push(redis);
  const worker = spawnTs(CLI, ['worker', '--redis', redis.url, '--handlers', handlers, '--queues', 'late']);
  // It says it waits (stderr), and has not exited.
  await new Promise<void>((resolve, reject) => {
    let text = '';
    worker.child.stderr!.on('data', (d) => {
      text += d;
      if (/waiting for the store: cannot connect to Redis/.test(text)) resolve();
    });
    worker.exited.then((code) => reject(new Error(`exited ${code} before waiting`)));
  });
  await redis.launch();
  const store = await RedisStore.connect(redis.url);
  const [r] = await store.enqueue([buildNewJob('late', 'resize', { item: 'late.jpg' })]);
  const done = await new Promise<string>((resolve) => {
    const off = store.subscribe((e) => {
      if (e.jobId === r.id && (e.type === 'completed' || e.type === 'failed')) {
        off();
        resolve(e.type);
      }
    });
    void store.get(r.id).then((j) => j?.state === 'completed' && resolve('completed'));
  });
  assert.equal(done, 'completed');
  worker.child.kill('SIGTERM');
  assert.equal(await worker.exited, 0);
  await store.close();
});

test('--wait-for-store bounds the wait: exit 2 with the reason', async () => {
  const redis = await OwnRedis.reserve();
  servers.push(redis);
  const r = await cli(['worker', '--redis', redis.url, '--handlers', handlers, '--wait-for-store', '300']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot connect to Redis/);
  assert.equal((await cli(['worker', '--redis', redis.url, '--handlers', handlers, '--wait-for-store', 'soon'])).code, 1);
});
