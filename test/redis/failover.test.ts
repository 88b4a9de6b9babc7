/**
 * Failovers, on servers of the test's own: the Redis that holds the namespace is killed
 * (kill -9) while two producers add and two workers run, and a replica takes over.
 *
 * - Redis Cluster (three masters, one replica each): the master of the namespace's slot.
 * - Sentinel (a primary, a replica, one sentinel): the primary.
 *
 * Producers and workers find the new primary by themselves; the old one comes back as its
 * replica. Producers add with `?replicas=1`, so an add is acknowledged only once a replica
 * has it: every acknowledged add completes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { buildNewJob } from '../../src/core/options.ts';
import { ConnectionError } from '../../src/core/errors.ts';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import { assertAllCompleted, lines, runsSince } from '../helpers/completed.ts';
import { Child } from './child.ts';
import { OwnCluster } from './own-cluster.ts';
import { OwnSentinel } from './own-sentinel.ts';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'conveyor-failover-'));
const procs: Child[] = [];
const servers: { stop(): Promise<void> }[] = [];

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Runs producers and workers on `url`, calls `failover` once both producers are mid-way,
 * and checks that every acknowledged add completes and both workers go on after it.
 */
async function survivesFailover(t: TestContext, url: string, label: string, failover: () => Promise<void>): Promise<void> {
  const prefix = `failover-${label}`;
  const queue = 'fo';
  const perProducer = 1000;
  const runFiles = [0, 1].map((i) => join(dir, `${label}-runs-${i}.txt`));
  const ackFiles = [0, 1].map((i) => join(dir, `${label}-ack-${i}.txt`));
  const workers = runFiles.map((f) => new Child(join(fixtures, 'worker.ts'), [url, prefix, queue, '8', '1500', '5', f, '60000']));
  procs.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor(/^ready /)));
  const durable = `${url}?replicas=1&replicaTimeoutMs=500`;
  const producers = ackFiles.map((f, p) =>
    new Child(join(fixtures, 'producer.ts'), [durable, prefix, queue, String(p * perProducer), String((p + 1) * perProducer), '50', '20', f]),
  );
  procs.push(...producers);

  await Promise.all(producers.map((p) => p.waitFor(/^acked ([3-9][0-9]{2})$/, 30_000)));
  const failedAt = Date.now();
  await failover();
  t.diagnostic(`failed over in ${Date.now() - failedAt} ms`);

  await Promise.all(producers.map((p) => p.waitFor(new RegExp(`^added ${perProducer}$`), 60_000)));
  const acked = ackFiles.flatMap(lines);
  assert.equal(new Set(acked).size, 2 * perProducer, 'every add was acknowledged once');

  const store = await RedisStore.connect(url, { prefix, retention: { maxFinishedPerQueue: null }, onWarning: () => {} });
  try {
    await assertAllCompleted(store, queue, acked, 60_000);
    runFiles.forEach((f, i) => {
      const n = runsSince(f, failedAt);
      assert.ok(n > 0, `worker ${i} took no job after the failover`);
      t.diagnostic(`worker ${i}: ${lines(f).length} runs, ${n} after the failover`);
    });
  } finally {
    await store.close();
  }
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

test('Redis Cluster: the master of the namespace killed mid-run, its replica takes over, no acknowledged add is lost', async (t) => {
  const cluster = await OwnCluster.start();
  servers.push(cluster);
  await survivesFailover(t, cluster.url, 'cluster', async () => {
    const master = await cluster.masterOf('{failover-cluster}:events');
    const promoted = await cluster.failOver(master);
    assert.notEqual(promoted, master);
    // Back as the new master's replica: adds that wait for one replica can be acknowledged again.
    await cluster.restart(master);
  });
});

let sentinel: OwnSentinel;
before(async () => {
  sentinel = await OwnSentinel.start();
  servers.push(sentinel);
});

test('Sentinel: the primary killed mid-run, the replica is promoted, no acknowledged add is lost', async (t) => {
  await survivesFailover(t, sentinel.url, 'sentinel', async () => {
    assert.notEqual(await sentinel.failOver(), sentinel.primary.port, 'the first switch names the replica');
  });
});

test('replicas=N: an add resolves once N replicas have it, and fails clearly (naming the count) when they do not', async () => {
  const one = await RedisStore.connect(`${sentinel.url}?replicas=1`, { prefix: 'replicas' });
  const two = await RedisStore.connect(sentinel.url, { prefix: 'replicas', replicas: 2, replicaTimeoutMs: 50 });
  try {
    const [ok] = await one.enqueue([buildNewJob('r', 't', { n: 1 })]);
    assert.equal(ok.state, 'queued');
    const job = buildNewJob('r', 't', { n: 2 });
    await assert.rejects(two.enqueue([job]), (err: Error) => err instanceof ConnectionError && /only 1 of 2 replicas/.test(err.message));
    // The primary has it (WAIT cannot undo a write): adding it again with its id is safe.
    await one.enqueue([job]);
    assert.equal((await one.counts(['r'])).r.queued, 2);
    await assert.rejects(RedisStore.connect(`${sentinel.url}?replicas=-1`), /replicas .* must be an integer >= 0/);
  } finally {
    await one.close();
    await two.close();
  }
});
