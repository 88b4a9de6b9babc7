/**
 * What the Redis backend promises beyond the shared contract: clear errors at connect, the
 * eviction-policy warning, two connections per Worker, wake-ups and events across stores,
 * bounded memory (retention, event stream, markers), Lua retry delays equal to
 * core/backoff.ts, and an enqueue that is safe to send twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { TestClock } from '../../src/core/clock.ts';
import { ConnectionError, ValidationError } from '../../src/core/errors.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { Keys } from '../../src/stores/redis/keys.ts';
import { LAYOUT } from '../../src/stores/redis/layout.ts';
import { RedisStore } from '../../src/stores/redis/redis-store.ts';
import type { JobEvent } from '../../src/stores/store.ts';
import { Worker } from '../../src/worker/worker.ts';
import { freshQueue, waitFor } from '../contract/contract.ts';
import { OwnRedis } from './own-redis.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from './redis-env.ts';

const prefix = uniquePrefix('store');
const W = { workerId: 'w', leaseMs: 60_000 };
let store: RedisStore;
let other: RedisStore;
let raw: Redis;

before(async () => {
  store = await RedisStore.connect(REDIS_URL, { prefix });
  other = await RedisStore.connect(REDIS_URL, { prefix });
  raw = new Redis(REDIS_URL);
});

after(async () => {
  await store.close();
  await other.close();
  raw.disconnect();
  await dropPrefix(prefix);
});

describe('connect', () => {
  test('bad URLs and options are refused with a ValidationError', async () => {
    await assert.rejects(RedisStore.connect('http://127.0.0.1:6379'), ValidationError);
    await assert.rejects(RedisStore.connect(42 as unknown as string), ValidationError);
    await assert.rejects(RedisStore.connect(REDIS_URL, { prefix: 'a{b}' }), ValidationError);
    await assert.rejects(RedisStore.connect(REDIS_URL, { retention: { maxFinishedPerQueue: 0 } }), ValidationError);
  });

  test('an unreachable server is a ConnectionError naming where, without the password', async () => {
    const err = await RedisStore.connect('redis://:s3cret@127.0.0.1:1/0', { connection: { connectTimeout: 2000 } }).catch((e) => e);
    assert.ok(err instanceof ConnectionError, String(err));
    assert.match(err.message, /cannot connect to Redis at redis:\/\/127\.0\.0\.1:1\/0/);
    assert.doesNotMatch(err.message, /s3cret/);
  });

  test('location is the URL without its password', () => {
    assert.equal(store.kind, 'redis');
    assert.equal(store.location, REDIS_URL);
  });

  test('warns when maxmemory-policy may evict jobs, and not when it is noeviction', async () => {
    const evicting = await OwnRedis.start(['--maxmemory-policy', 'allkeys-lru']);
    try {
      const warnings: string[] = [];
      const s = await RedisStore.connect(evicting.url, { onWarning: (m) => warnings.push(m) });
      await s.close();
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /maxmemory-policy allkeys-lru/);
      const quiet: string[] = [];
      const s2 = await RedisStore.connect(REDIS_URL, { prefix, onWarning: (m) => quiet.push(m) });
      await s2.close();
      assert.deepEqual(quiet, []);
    } finally {
      await evicting.stop();
    }
  });
});

describe('layout', () => {
  test("connect marks a prefix with its data's layout, upgrades an older mark and refuses a newer one", async () => {
    const fresh = uniquePrefix('layout');
    const older = uniquePrefix('layout');
    const newer = uniquePrefix('layout');
    try {
      await (await RedisStore.connect(REDIS_URL, { prefix: fresh })).close();
      assert.equal(await raw.get(new Keys(fresh).layout), String(LAYOUT));
      await raw.set(new Keys(older).layout, '1');
      await (await RedisStore.connect(REDIS_URL, { prefix: older })).close();
      assert.equal(await raw.get(new Keys(older).layout), String(LAYOUT));
      await raw.set(new Keys(newer).layout, String(LAYOUT + 1));
      const err = await RedisStore.connect(REDIS_URL, { prefix: newer }).catch((e) => e);
      assert.ok(err instanceof ConnectionError, String(err));
      assert.match(err.message, new RegExp(`layout ${LAYOUT + 1}, newer than this version reads \\(${LAYOUT}\\): upgrade`));
      assert.equal(await raw.get(new Keys(newer).layout), String(LAYOUT + 1), 'left as it was');
    } finally {
      for (const p of [fresh, older, newer]) await dropPrefix(p);
    }
  });

  test('active jobs are held by the lease set alone; marking a prefix from before drops the per-state sets of active jobs', async () => {
    const keys = new Keys(prefix);
    const q = freshQueue();
    const [a, b] = await store.enqueue([buildNewJob(q, 't', 1), buildNewJob(q, 't', 2)]);
    const claimed = await store.claim({ ...W, queues: [q], limit: 2 });
    assert.equal(claimed.length, 2);
    assert.equal(await raw.exists(keys.state('active', q)), 0, 'no st:active set is written');
    assert.deepEqual((await raw.zrange(keys.lease(q), 0, -1)).sort(), [a.id, b.id].sort());
    assert.equal((await store.counts([q]))[q].active, 2);
    // A prefix marked 3 may hold st:active sets the scripts no longer keep: connecting drops them.
    const old = uniquePrefix('layout');
    const oldKeys = new Keys(old);
    try {
      const s = await RedisStore.connect(REDIS_URL, { prefix: old });
      await s.enqueue([buildNewJob('oq', 't', 1)]);
      await s.close();
      await raw.set(oldKeys.layout, '3');
      await raw.zadd(oldKeys.state('active', 'oq'), 1, 'stale');
      await (await RedisStore.connect(REDIS_URL, { prefix: old })).close();
      assert.deepEqual([await raw.exists(oldKeys.state('active', 'oq')), await raw.get(oldKeys.layout)], [0, String(LAYOUT)]);
    } finally {
      await dropPrefix(old);
    }
  });

  test("a job's hash leaves out its id, priority 0 and a single attempt; hashes that hold them (layout 1) read and run the same", async () => {
    const q = freshQueue();
    const [plain, urgent, old] = await store.enqueue([buildNewJob(q, 't', 1), buildNewJob(q, 't', 2, { priority: 5, attempts: 3 }), buildNewJob(q, 't', 3)]);
    const keys = new Keys(prefix);
    const fields = await raw.hkeys(keys.job(plain.id));
    for (const f of ['id', 'priority', 'maxAttempts']) assert.ok(!fields.includes(f), `${f} in ${fields.join(',')}`);
    assert.deepEqual(await raw.hmget(keys.job(urgent.id), 'priority', 'maxAttempts'), ['5', '3']);
    // As an earlier version wrote it.
    await raw.hset(keys.job(old.id), 'id', old.id, 'priority', '0', 'maxAttempts', '1');
    for (const r of [plain, old]) {
      const job = (await store.get(r.id))!;
      assert.deepEqual([job.id, job.priority, job.maxAttempts, job.state], [r.id, 0, 1, 'queued']);
    }
    const claimed = await store.claim({ ...W, queues: [q], limit: 3 });
    assert.deepEqual(claimed.map((j) => [j.id, j.priority, j.maxAttempts, j.attempt]), [[urgent.id, 5, 3, 1], [plain.id, 0, 1, 1], [old.id, 0, 1, 1]]);
    assert.deepEqual(await store.finish(claimed.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: j.data }))), [true, true, true]);
    assert.deepEqual((await store.list({ queue: q, order: 'asc' })).jobs.map((j) => [j.id, j.result]), [[plain.id, 1], [urgent.id, 2], [old.id, 3]]);
  });
});

describe('values in the hash', () => {
  const keys = new Keys(prefix);
  const fieldsOf = async (id: string) => (await raw.hkeys(keys.job(id))).filter((f) => /^data(\.\d+)?$/.test(f)).sort();

  test('data up to 512 bytes lives in the hash in chunks of at most 64 bytes, so the hash stays a listpack; longer data has its own key', async () => {
    const q = freshQueue();
    const small = { s: 'x'.repeat(100) }; // 116 bytes of JSON: two chunks
    const edge = 'é'.repeat(250); // 502 bytes: eight chunks, none ending inside a character
    const large = { s: 'x'.repeat(600) };
    const [a, b, c] = await store.enqueue([buildNewJob(q, 't', small), buildNewJob(q, 't', edge), buildNewJob(q, 't', large)]);
    assert.deepEqual(await fieldsOf(a.id), ['data', 'data.1']);
    assert.equal(await raw.exists(keys.data(a.id)), 0);
    assert.equal(await raw.call('OBJECT', 'ENCODING', keys.job(a.id)), 'listpack');
    assert.equal((await fieldsOf(b.id)).length, 8);
    for (const v of await raw.hvals(keys.job(b.id))) assert.ok(Buffer.byteLength(v) <= 64, `a value of ${Buffer.byteLength(v)} bytes`);
    assert.equal(await raw.call('OBJECT', 'ENCODING', keys.job(b.id)), 'listpack');
    assert.deepEqual(await fieldsOf(c.id), []);
    assert.equal(await raw.get(keys.data(c.id)), JSON.stringify(large));
    assert.deepEqual([(await store.get(a.id))!.data, (await store.get(b.id))!.data, (await store.get(c.id))!.data], [small, edge, large]);
  });

  test('a debounced add that replaces the data leaves no chunk or key of the old value behind', async () => {
    const q = freshQueue();
    const opts = { debounce: { key: 'k', delayMs: 60_000 } };
    const { id } = (await store.enqueue([buildNewJob(q, 't', 'a'.repeat(300), opts)]))[0];
    const steps: [unknown, string[], number][] = [
      ['short', ['data'], 0],
      ['b'.repeat(700), [], 1],
      ['c'.repeat(130), ['data', 'data.1', 'data.2'], 0],
      ['d'.repeat(70), ['data', 'data.1'], 0],
    ];
    for (const [data, fields, ownKey] of steps) {
      const [r] = await store.enqueue([buildNewJob(q, 't', data, opts)]);
      assert.deepEqual([r.id, r.debounced], [id, true]);
      assert.deepEqual(await fieldsOf(id), fields, `fields for ${JSON.stringify(data).length} bytes`);
      assert.equal(await raw.exists(keys.data(id)), ownKey);
      assert.deepEqual((await store.get(id))!.data, data);
    }
  });

  test('jobs written before (long data in its own key) read, run and finish the same', async () => {
    const q = freshQueue();
    const data = { s: 'é'.repeat(100) };
    const [r] = await store.enqueue([buildNewJob(q, 't', data)]);
    // As layout 2 wrote it: data over 48 bytes in a key of its own.
    await raw.hdel(keys.job(r.id), 'data', 'data.1', 'data.2', 'data.3');
    await raw.set(keys.data(r.id), JSON.stringify(data));
    assert.deepEqual((await store.get(r.id))!.data, data);
    const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
    assert.deepEqual([job.id, job.data], [r.id, data]);
    assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: data }]), [true]);
    assert.deepEqual((await store.get(r.id))!.result, data);
    await store.remove([r.id]);
    assert.equal(await raw.exists(keys.data(r.id), keys.job(r.id)), 0);
  });
});

describe('connections', () => {
  test('a Worker with concurrency 50 uses two connections: commands and one blocking', async () => {
    const name = `conns-${process.pid}-${Date.now()}`;
    const s = await RedisStore.connect(REDIS_URL, { prefix, connection: { connectionName: name } });
    const q = freshQueue();
    const worker = new Worker(s, { queues: [q], concurrency: 50, leaseMs: 5_000, handlers: { t: async () => null } });
    try {
      await worker.start();
      await s.enqueue(Array.from({ length: 300 }, (_, i) => buildNewJob(q, 't', { i })));
      await waitFor(async () => (await s.counts([q]))[q].completed === 300, 15_000);
      const clients = (await raw.client('LIST')) as string;
      const ours = clients.split('\n').filter((l) => new RegExp(`name=${name}(:blocking)?( |$)`).test(l));
      assert.equal(ours.length, 2, ours.join('\n'));
    } finally {
      await worker.close();
      await s.close();
    }
  });

  test('a Worker that goes idle after every job keeps its blocking read: no restart per job', async () => {
    const s = await RedisStore.connect(REDIS_URL, { prefix });
    const q = freshQueue();
    let done = 0;
    const worker = new Worker(s, { queues: [q], concurrency: 4, handlers: { t: () => void done++ } });
    try {
      await worker.start();
      for (let i = 0; i < 20; i++) {
        await s.enqueue([buildNewJob(q, 't', { i })]);
        await waitFor(() => done === i + 1);
      }
      // Each restart of the read is an interrupt: one XADD to the store's own wake stream.
      const stream = new Keys(prefix).wake((s as unknown as { wakeups: { deps: { storeId: string } } }).wakeups.deps.storeId);
      const [last] = (await raw.xrevrange(stream, '+', '-', 'COUNT', 1)) as [string, string[]][];
      const interrupts = last ? Number(last[0].split('-')[1]) : 0;
      assert.ok(interrupts <= 2, `${interrupts} restarts of the blocking read for 20 jobs`);
    } finally {
      await worker.close();
      await s.close();
    }
  });
});

describe('what a Worker reads', () => {
  test("a Worker's blocking read does not wake for its jobs' events, and a cancel still aborts its running job", async () => {
    // A server of its own: the XREAD count below is this test's alone.
    const own = await OwnRedis.start();
    const s = await RedisStore.connect(own.url, { prefix });
    const r = new Redis(own.url);
    const q = freshQueue();
    let done = 0;
    let aborted: unknown = null;
    let holding = false;
    const worker = new Worker(s, {
      queues: [q],
      concurrency: 1,
      handlers: {
        t: () => void done++,
        hold: (_job, ctx) =>
          new Promise((_, reject) => {
            holding = true;
            ctx.signal.addEventListener('abort', () => reject((aborted = ctx.signal.reason)));
          }),
      },
    });
    try {
      await s.enqueue(Array.from({ length: 100 }, (_, i) => buildNewJob(q, 't', { i })));
      const xreads = async () => Number(/cmdstat_xread:calls=(\d+)/.exec(await r.info('commandstats'))?.[1] ?? 0);
      const before = await xreads();
      await worker.start();
      await waitFor(() => done === 100);
      // Each job writes an 'active' and a 'completed' event: read from the event stream,
      // every one of them would end the worker's blocking read and cost a new one.
      const reads = (await xreads()) - before;
      assert.ok(reads <= 10, `${reads} blocking reads for 100 jobs`);
      const [held] = await s.enqueue([buildNewJob(q, 'hold', {})]);
      // Started, not only claimed: a cancel between the two is caught by the next heartbeat.
      await waitFor(() => holding);
      assert.deepEqual(await s.cancel([held.id], 'stop it'), [held.id]);
      await waitFor(() => aborted !== null);
      assert.match(String((aborted as Error).message), /stop it/);
    } finally {
      await worker.close();
      await s.close();
      r.disconnect();
      await own.stop();
    }
  });
});

describe('across stores (as across processes)', () => {
  test('an enqueue through one store wakes wait() on another', async () => {
    const q = freshQueue();
    await store.claim({ ...W, queues: [q], limit: 1 });
    const woke = store.wait([q], 10_000);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await other.enqueue([buildNewJob(q, 't', {})]);
    await woke;
    assert.ok(Date.now() - t0 < 1_000, `woke after ${Date.now() - t0} ms`);
    assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 1);
  });

  test('work added between a claim and the next wait() is not missed', async () => {
    const q = freshQueue();
    assert.equal((await store.claim({ ...W, queues: [q], limit: 1 })).length, 0);
    await other.enqueue([buildNewJob(q, 't', {})]);
    const t0 = Date.now();
    await store.wait([q], 10_000);
    assert.ok(Date.now() - t0 < 1_000, 'the marker written after the claim wakes the wait at once');
  });

  test("events of one store's writes reach another store's subscriber, in order", async () => {
    const q = freshQueue();
    const seen: JobEvent[] = [];
    const off = store.subscribe((e) => e.queue === q && seen.push(e));
    await new Promise((r) => setTimeout(r, 50));
    // Three writes of one job each, then one claim of all and finishes in reverse order:
    // the subscriber must see every event, in the order the writes happened.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await other.enqueue([buildNewJob(q, 't', { i })]))[0].id);
    const jobs = await other.claim({ ...W, queues: [q], limit: 3 });
    assert.deepEqual(jobs.map((j) => j.id), ids);
    for (const job of [...jobs].reverse()) await other.finish([{ id: job.id, token: job.token, kind: 'completed', result: 7 }]);
    await waitFor(() => seen.filter((e) => e.type === 'completed').length === 3);
    off();
    const [a, b, c] = ids;
    assert.deepEqual(
      seen.map((e) => [e.type, e.jobId]),
      [
        ['added', a], ['added', b], ['added', c],
        ['active', a], ['active', b], ['active', c],
        ['completed', c], ['completed', b], ['completed', a],
      ],
    );
  });
});

describe('a finish with the next claim', () => {
  test('a Worker sends its next claim with its outcomes once its queues look drained, and not while a backlog lasts', async () => {
    const s = await RedisStore.connect(REDIS_URL, { prefix });
    const calls = { finish: 0, finishAndClaim: 0 };
    const counted = new Proxy(s, {
      get(target, prop) {
        if (prop === 'finish' || prop === 'finishAndClaim') calls[prop]++;
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const q = freshQueue();
    let done = 0;
    const worker = new Worker(counted, { queues: [q], concurrency: 1, maintainMs: 0, handlers: { t: () => void done++ } });
    try {
      // A backlog: each claim fills its one slot, so each finish goes alone.
      await s.enqueue(Array.from({ length: 30 }, (_, i) => buildNewJob(q, 't', { i })));
      await worker.start();
      await waitFor(() => done === 30);
      assert.ok(calls.finishAndClaim <= 2, `${calls.finishAndClaim} finishes carried a claim during the backlog`);
      // One job at a time into an idle worker: the claim that follows each finish rides with it.
      calls.finish = calls.finishAndClaim = 0;
      for (let i = 0; i < 10; i++) {
        await s.enqueue([buildNewJob(q, 't', { i })]);
        await waitFor(async () => done === 31 + i && (await s.counts([q]))[q].completed === 31 + i);
      }
      assert.ok(calls.finishAndClaim >= 9, `${calls.finishAndClaim} of ${calls.finishAndClaim + calls.finish} finishes carried a claim`);
    } finally {
      await worker.close();
      await s.close();
    }
  });
});

describe('the control stream', () => {
  test('a subscriber of cancels and removals only gets each once, from the control stream; one of every type gets them too, once', async () => {
    const q = freshQueue();
    const control: JobEvent[] = [];
    const all: JobEvent[] = [];
    const offControl = store.subscribe((e) => e.queue === q && control.push(e), ['canceled', 'removed']);
    const offAll = store.subscribe((e) => e.queue === q && all.push(e));
    // Writes through the subscribing store itself: each listener's start is read on its
    // command connection ahead of them, so no event can be missed.
    const [a, b, c, last] = await store.enqueue([0, 1, 2, 3].map((i) => buildNewJob(q, 't', { i })));
    const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
    await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
    await store.cancel([b.id]);
    await store.remove([c.id]);
    // A last cancel: each stream is delivered in order, so a repeat of an earlier event
    // would have come before it.
    await store.cancel([last.id]);
    const seenLast = (events: JobEvent[]) => events.some((e) => e.type === 'canceled' && e.jobId === last.id);
    await waitFor(() => seenLast(all) && seenLast(control));
    offControl();
    offAll();
    control.pop();
    all.pop();
    all.splice(3, 1); // the fourth job's 'added'
    assert.equal(job.id, a.id);
    assert.deepEqual(control.map((e) => [e.type, e.jobId]), [['canceled', b.id], ['removed', c.id]]);
    assert.deepEqual(all.map((e) => [e.type, e.jobId]), [['added', a.id], ['added', b.id], ['added', c.id], ['active', a.id], ['completed', a.id], ['canceled', b.id], ['removed', c.id]]);
    const entries = await raw.xrange(new Keys(prefix).control, '-', '+');
    assert.ok(entries.every(([, f]) => f[1] === 'canceled' || f[1] === 'removed'), 'nothing else is written there');
  });
});

describe('bounded memory', () => {
  test("per-minute history expires: a day's counts carry a two-day expiry from the first finish of a minute on", async () => {
    const q = freshQueue();
    await store.enqueue([buildNewJob(q, 't', {}), buildNewJob(q, 't', {})]);
    for (const job of await store.claim({ ...W, queues: [q], limit: 2 })) await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
    const keys = await raw.keys(`{${prefix}}:minutes:${q}:*`);
    assert.equal(keys.length, 1);
    const ttl = await raw.pttl(keys[0]);
    assert.ok(ttl > 172_800_000 - 60_000 && ttl <= 172_800_000, `expires in ${ttl} ms`);
    assert.equal(Object.values(await raw.hgetall(keys[0])).map(Number).reduce((a, b) => a + b, 0), 2);
  });

  test('finished jobs: at most maxFinishedPerQueue per queue and state, oldest removed first', async () => {
    const s = await RedisStore.connect(REDIS_URL, { prefix, retention: { maxFinishedPerQueue: 5 } });
    try {
      const q = freshQueue();
      await s.enqueue(Array.from({ length: 8 }, (_, i) => buildNewJob(q, 't', { i })));
      for (const job of await s.claim({ ...W, queues: [q], limit: 8 })) {
        await s.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
      }
      const rep = await s.maintain();
      assert.ok(rep.expired >= 3);
      const left = (await s.list({ queue: q, order: 'asc' })).jobs.map((j) => (j.data as { i: number }).i);
      assert.deepEqual(left, [3, 4, 5, 6, 7]);
    } finally {
      await s.close();
    }
  });

  test('by default a finished job without a TTL expires 7 days after it finished', async () => {
    const q = freshQueue();
    await store.enqueue([buildNewJob(q, 't', {})]);
    const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
    await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
    const done = await store.get(job.id);
    assert.equal(done!.expiresAt! - done!.finishedAt!, 7 * 24 * 3600 * 1000);
  });

  test('the event stream is trimmed near eventsMaxLen; marker streams stay short', async () => {
    const p = uniquePrefix('trim');
    const s = await RedisStore.connect(REDIS_URL, { prefix: p, eventsMaxLen: 100 });
    try {
      const q = freshQueue();
      for (let i = 0; i < 10; i++) await s.enqueue(Array.from({ length: 50 }, () => buildNewJob(q, 't', {})));
      const keys = new Keys(p);
      assert.ok((await raw.xlen(keys.events)) <= 200, 'approximate trimming keeps about eventsMaxLen entries');
      // Each add writes a marker; approximate trimming keeps 100 to 200 of them.
      for (let i = 0; i < 300; i++) await s.enqueue([buildNewJob(q, 't', {})]);
      const markers = await raw.xlen(keys.marker(q));
      assert.ok(markers >= 100 && markers <= 200, `marker stream holds ${markers} entries`);
    } finally {
      await s.close();
      await dropPrefix(p);
    }
  });
});

describe('hand-overs to parked workers', () => {
  const parked = (queues: string[], workerId: string, names?: string[]) => ({ queues, workerId, limit: 3, leaseMs: 60_000, parkMs: 60_000, ...(names ? { names } : {}) });
  const addJob = async (s: RedisStore, q: string, name = 'a') => (await s.enqueue([buildNewJob(q, name, { q })]))[0].id;

  test('the add that finds a parked worker leases the job to it: active before any claim, and its wait ends', async () => {
    const q = freshQueue('hand');
    assert.deepEqual(await store.claim(parked([q], 'hw1')), []);
    const waiting = store.wait([q], 60_000);
    const id = await addJob(other, q);
    const job = await other.get(id);
    assert.equal(job?.state, 'active');
    assert.equal(job?.workerId, 'hw1');
    await waiting;
    const [got] = await store.claim(parked([q], 'hw1'));
    assert.equal(got.id, id);
    assert.deepEqual(await store.finish([{ id, token: got.token, kind: 'completed', result: 1 }]), [true]);
    // One hand-over per registration: the next add waits for a claim.
    const next = await addJob(other, q);
    assert.equal((await other.get(next))?.state, 'queued');
    await other.remove([next]);
  });

  test('a single add to a queue with nothing ready is leased as it is written: the job, counts, indexes and events of any hand-over', async () => {
    const keys = new Keys(prefix);
    const q = freshQueue('hand');
    const seen: string[] = [];
    const off = other.subscribe((e) => e.queue === q && seen.push(`${e.type}:${e.jobId}`));
    const long = { s: 'é'.repeat(400) }; // over 512 bytes: its own key
    for (const [i, data] of [{ short: 1 }, long, { s: 'x'.repeat(100) }].entries()) {
      assert.deepEqual(await store.claim(parked([q], 'hf1')), []);
      const waiting = store.wait([q], 60_000);
      const [r] = await other.enqueue([buildNewJob(q, 'a', data, { attempts: 2 })]);
      assert.equal(r.state, 'queued', 'an add reports queued, as for every hand-over');
      await waiting;
      const [got] = await store.claim(parked([q], 'hf1'));
      assert.deepEqual([got.id, got.data, got.attempt, got.maxAttempts, got.state], [r.id, data, 1, 2, 'active'], `job ${i}`);
      const job = (await other.get(r.id))!;
      assert.deepEqual([job.state, job.workerId, job.attempt, job.data, job.leaseUntil !== null], ['active', 'hf1', 1, data, true]);
      assert.deepEqual([await raw.zscore(keys.state('queued', q), r.id), await raw.zcard(`${keys.base}ready:${q}`)], [null, 0]);
      assert.notEqual(await raw.zscore(keys.lease(q), r.id), null);
      assert.deepEqual(await store.finish([{ id: r.id, token: got.token, kind: 'completed', result: i }]), [true]);
      await waitFor(() => seen.includes(`completed:${r.id}`));
      assert.deepEqual(seen.filter((e) => e.endsWith(r.id)), [`added:${r.id}`, `active:${r.id}`, `completed:${r.id}`]);
    }
    off();
    const counts = (await other.counts([q]))[q];
    assert.deepEqual([counts.queued, counts.active, counts.completed], [0, 0, 3]);
  });

  test('an add whose ready jobs all went to parked workers writes no wake-up marker; one that leaves work, or schedules a job, does', async () => {
    const q = freshQueue('hand');
    const markers = () => raw.xlen(new Keys(prefix).marker(q));
    const delayed = () => buildNewJob(q, 'a', {}, { delay: 60_000 });
    assert.deepEqual(await store.claim(parked([q], 'hm1')), []);
    const before = await markers();
    // Two jobs for a registration with three free slots: both handed over, nothing left.
    await other.enqueue([buildNewJob(q, 'a', 1), buildNewJob(q, 'a', 2)]);
    assert.equal(await markers(), before, 'no waiter has anything to claim');
    assert.equal((await store.claim(parked([q], 'hm1'))).length, 2);
    assert.deepEqual(await store.claim(parked([q], 'hm1')), []);
    // A delayed job in the same add: waiters must learn its due time from a claim.
    await other.enqueue([buildNewJob(q, 'a', 3), delayed()]);
    assert.equal(await markers(), before + 1);
    assert.equal((await store.claim(parked([q], 'hm1'))).length, 1);
    assert.deepEqual(await store.claim(parked([q], 'hm1')), []);
    // Four jobs for three free slots: one is left for whoever wakes.
    await other.enqueue([4, 5, 6, 7].map((i) => buildNewJob(q, 'a', i)));
    assert.equal(await markers(), before + 2);
    assert.equal((await other.counts([q]))[q].queued, 1);
  });

  test('a wait that begins after a hand-over arrived ends at once: no marker announces that work', async () => {
    const clock = new TestClock(Date.now());
    const s = await RedisStore.connect(REDIS_URL, { prefix, clock });
    const q = freshQueue('hand');
    try {
      assert.deepEqual(await s.claim(parked([q], 'hl1')), []);
      const id = await addJob(other, q);
      const handoffs = (s as unknown as { handoffs: { waiting(queues: string[]): boolean } }).handoffs;
      await waitFor(() => handoffs.waiting([q]));
      // On the test clock the wait's own timeout never comes: only the hand-over can end it,
      // and it needs no read from Redis to, so it ends within this turn of the event loop.
      let ended = false;
      const waited = s.wait([q], 60_000).then(() => (ended = true));
      await new Promise((r) => setImmediate(r));
      const endedAtOnce = ended;
      clock.advance(60_000);
      await waited;
      assert.ok(endedAtOnce, 'ended before its timeout');
      assert.deepEqual((await s.claim(parked([q], 'hl1'))).map((j) => j.id), [id]);
    } finally {
      await s.close();
    }
  });

  test('a parked worker is handed only names it takes, and only on queues without limits', async () => {
    const q = freshQueue('hand');
    assert.deepEqual(await store.claim(parked([q], 'hw2', ['a'])), []);
    const b = await addJob(other, q, 'b');
    assert.equal((await other.get(b))?.state, 'queued', 'a name the worker does not take is left for claims');
    await other.remove([b]);
    const a = await addJob(other, q, 'a');
    assert.equal((await other.get(a))?.state, 'active');
    const [got] = await store.claim(parked([q], 'hw2', ['a']));
    assert.equal(got.id, a);

    const limited = freshQueue('hand');
    await other.configureQueue(limited, { concurrency: 5 });
    assert.deepEqual(await store.claim(parked([limited], 'hw3')), []);
    const c = await addJob(other, limited);
    assert.equal((await other.get(c))?.state, 'queued', 'concurrency is the claim\'s to decide');
    assert.deepEqual(
      (await store.claim(parked([limited], 'hw3'))).map((j) => j.id),
      [c],
    );
    await store.removeWorker('hw2');
    await store.removeWorker('hw3');
  });

  test('a claim racing a hand-over to its own registration returns the handed jobs, no more', async () => {
    const q = freshQueue('hand');
    assert.deepEqual(await store.claim(parked([q], 'hw4')), []);
    // Both adds land before the claim below runs; the first is handed over, the claim
    // must neither lose it nor take the second on top of the worker's limit.
    const [x, y] = await Promise.all([addJob(other, q), addJob(other, q)]);
    const got = await store.claim({ ...parked([q], 'hw4'), limit: 1 });
    assert.equal(got.length, 1);
    assert.ok([x, y].includes(got[0].id));
    await store.removeWorker('hw4');
    const rest = await other.claim({ queues: [q], workerId: 'x', limit: 5, leaseMs: 1000 });
    assert.deepEqual(rest.map((j) => j.id).sort(), [x, y].filter((i) => i !== got[0].id).sort());
  });

  test('a registration lasts the wait it announced (plus a second); a bad parkMs is refused and parks nothing', async () => {
    const clock = new TestClock(Date.now());
    const s = await RedisStore.connect(REDIS_URL, { prefix, clock });
    try {
      const q = freshQueue('hand');
      for (const bad of [0, -1, Number.NaN, Infinity, '5' as unknown as number]) {
        await assert.rejects(s.claim({ ...parked([q], 'hw5'), parkMs: bad }), (e: Error) => e instanceof ValidationError && /parkMs/.test(e.message));
      }
      assert.equal(await raw.zcard(new Keys(prefix).idle(q)), 0);
      assert.deepEqual(await s.claim({ ...parked([q], 'hw5'), parkMs: 2_000 }), []);
      clock.advance(3_001);
      const late = await addJob(s, q);
      assert.equal((await s.get(late))?.state, 'queued', 'past its wait and the grace second: woken, not handed work');
      assert.equal(await raw.zcard(new Keys(prefix).idle(q)), 1, 'a dead worker would leave its registration');
      await s.maintain();
      assert.equal(await raw.zcard(new Keys(prefix).idle(q)), 0, 'upkeep drops it');
    } finally {
      await s.close();
    }
  });

  test('a parked worker claiming again before anything new is announced is answered without Redis; new work or a due time goes to Redis', async () => {
    const clock = new TestClock(Date.now());
    const s = await RedisStore.connect(REDIS_URL, { prefix, clock });
    try {
      const q = freshQueue('hand');
      const idle = new Keys(prefix).idle(q);
      const req = { ...parked([q], 'hw6', ['a']), parkMs: 5_000 };
      assert.deepEqual(await s.claim(req), []);
      const [first] = await raw.zrange(idle, 0, -1);
      // Answered here: the same registration stays parked (a call to Redis re-parks).
      assert.deepEqual(await s.claim(req), []);
      assert.deepEqual(await raw.zrange(idle, 0, -1), [first]);
      // A job the registration is not handed (a name it does not take first in line) is
      // announced by its marker: the next claim goes to Redis and takes the one it can.
      const waiting = s.wait([q], 60_000);
      await addJob(other, q, 'b');
      const a = await addJob(other, q, 'a');
      await waiting;
      const got = await s.claim(req);
      assert.deepEqual(
        got.map((j) => j.id),
        [a],
      );
      // A due time: the claim that comes after it promotes the job.
      assert.deepEqual(await s.claim(req), []);
      const later = (await other.enqueue([buildNewJob(q, 'a', {}, { delay: 500 }, {}, undefined, clock.now())]))[0].id;
      await s.wait([q], 60_000); // its marker, read: the claim below learns the due time
      assert.deepEqual(await s.claim(req), []);
      assert.deepEqual(await s.claim(req), [], 'answered here: nothing new, not due yet');
      clock.advance(501); // within the registration's grace second: only the due time says ask
      await s.wait([q], 60_000); // a Worker waits first: the due time ends that wait at once
      assert.deepEqual(
        (await s.claim(req)).map((j) => j.id),
        [later],
      );
      // Queues with limits are always asked.
      const limited = freshQueue('hand');
      await other.configureQueue(limited, { concurrency: 3 });
      const lreq = { ...parked([limited], 'hw7'), parkMs: 5_000 };
      assert.deepEqual(await s.claim(lreq), []);
      const [r1] = await raw.zrange(new Keys(prefix).idle(limited), 0, -1);
      assert.deepEqual(await s.claim(lreq), []);
      assert.notDeepEqual(await raw.zrange(new Keys(prefix).idle(limited), 0, -1), [r1]);
      await s.removeWorker('hw6');
      await s.removeWorker('hw7');
    } finally {
      await s.close();
    }
  });

  test('jobs handed to a worker that died run again once their lease ends', async () => {
    const clock = new TestClock(Date.now());
    const dead = await RedisStore.connect(REDIS_URL, { prefix, clock });
    const alive = await RedisStore.connect(REDIS_URL, { prefix, clock });
    try {
      const q = freshQueue('hand');
      assert.deepEqual(await dead.claim({ ...parked([q], 'hw-dead'), leaseMs: 5_000 }), []);
      const id = await addJob(alive, q);
      assert.equal((await alive.get(id))?.state, 'active');
      // The dead worker's process never claims, finishes or heartbeats again.
      clock.advance(5_001);
      await alive.maintain();
      const [again] = await alive.claim({ queues: [q], workerId: 'hw-alive', limit: 1, leaseMs: 5_000 });
      assert.equal(again?.id, id);
      assert.equal(again.attempt, 2);
    } finally {
      await alive.close();
      await dead.close();
    }
  });
});

describe('writes', () => {
  test('sending the same enqueue twice (a resend after a lost reply) adds nothing the second time', async () => {
    const q = freshQueue();
    const batch = Array.from({ length: 5 }, (_, i) => buildNewJob(q, 't', { i }));
    const first = await store.enqueue(batch);
    const second = await store.enqueue(batch);
    assert.deepEqual(second, first);
    assert.ok(second.every((r) => !r.duplicate));
    assert.equal((await store.counts([q]))[q].queued, 5);
  });

  test('a result JSON cannot carry is refused before anything changes', async () => {
    const q = freshQueue();
    await store.enqueue([buildNewJob(q, 't', {})]);
    const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
    await assert.rejects(store.finish([{ id: job.id, token: job.token, kind: 'completed', result: { n: 1n } }]), ValidationError);
    assert.equal((await store.get(job.id))!.state, 'active');
  });
});
