/**
 * The Store contract suite: one set of tests that every backend must pass against the
 * real thing. Each backend's *.test.ts file calls runContract with a factory that gives a
 * fresh, isolated store (own file, key prefix or schema).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestClock } from '../../src/core/clock.ts';
import type { ClaimedJob } from '../../src/core/job.ts';
import { buildNewJob as buildAt, type JobOptions } from '../../src/core/options.ts';
import { decideFailure, stallOutcome, type FailureReport } from '../../src/engine/transitions.ts';
import { buildSchedule, progressOf } from '../../src/core/schedule.ts';
import { DEFAULT_QUEUE_CONFIG } from '../../src/core/queue-config.ts';
import type { JobEvent, JobPage, ListFilter, Outcome, Store } from '../../src/stores/store.ts';
import { NotFoundError, QueueFullError, ValidationError } from '../../src/core/errors.ts';
import { MAX_LOG_LINE_LENGTH, MAX_LOG_LINES } from '../../src/stores/rules.ts';

/** Makes a fresh, isolated store on the suite's test clock. */
export interface StoreFactory {
  (clock: TestClock): Promise<Store>;
}

/** The suite's time: tests move it forward instead of sleeping. */
const clock = new TestClock(Date.now());

/** A new job stamped with the suite's clock. */
function buildNewJob(queue: string, name: string, data: unknown, opts: JobOptions = {}) {
  return buildAt(queue, name, data, opts, {}, undefined, clock.now());
}

/** A failed attempt's outcome, decided by the engine as a Worker would decide it. */
function failure(job: ClaimedJob, message: string, report: FailureReport = {}, stack?: string, token = job.token): Outcome {
  return { id: job.id, token, kind: 'failed', error: { message, ...(stack === undefined ? {} : { stack }) }, next: decideFailure(job, report, clock.now()) };
}

let counter = 0;
/** A queue name no other test uses, so tests can share one store. */
export function freshQueue(label = 'q'): string {
  return `${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export async function add(store: Store, queue: string, name: string, data: unknown = {}, opts: JobOptions = {}) {
  const [r] = await store.enqueue([buildNewJob(queue, name, data, opts)]);
  return r;
}

const W = { workerId: 'w1', leaseMs: 30_000 };

export function runContract(backend: string, factory: StoreFactory): void {
  describe(`Store contract: ${backend}`, () => {
    let store: Store;
    before(async () => {
      store = await factory(clock);
    });
    after(async () => {
      await store.close();
    });

    test('enqueue then get returns the job with its data and defaults', async () => {
      const q = freshQueue();
      const r = await add(store, q, 'email', { to: 'a@b.c', n: 1 }, { priority: 5, attempts: 3, timeout: 1000 });
      assert.equal(r.state, 'queued');
      assert.equal(r.duplicate, false);
      const job = await store.get(r.id);
      assert.ok(job);
      assert.equal(job.queue, q);
      assert.equal(job.name, 'email');
      assert.deepEqual(job.data, { to: 'a@b.c', n: 1 });
      assert.equal(job.state, 'queued');
      assert.equal(job.priority, 5);
      assert.equal(job.maxAttempts, 3);
      assert.equal(job.attempt, 0);
      assert.equal(job.timeoutMs, 1000);
      assert.equal(job.progress, 0);
      assert.deepEqual(job.errors, []);
      assert.ok(job.createdAt > 0);
      assert.equal(await store.get('no-such-job'), null);
    });

    test('data and results of every size and character come back as they went in: add, get, list, claim, finish', async () => {
      const q = freshQueue();
      // Strings whose multi-byte characters (2, 3 and 4 bytes in UTF-8) fall at every offset,
      // at lengths around the sizes a store may treat differently (short values, chunks, own keys).
      const values: unknown[] = [null, 0, '', 'x'.repeat(47), 'x'.repeat(63), 'x'.repeat(64)];
      for (const len of [40, 60, 100, 130, 250, 500, 520, 2000]) {
        for (const [k, ch] of [[0, 'é'], [1, '€'], [2, '😀'], [3, '😀']] as const) values.push({ s: 'a'.repeat(k) + ch.repeat(Math.ceil(len / ch.length)) });
      }
      values.push({ mixed: 'aé€😀'.repeat(60), n: [1, 2.5, -3], nested: { t: true, f: false, z: null } });
      const added = await store.enqueue(values.map((v) => buildNewJob(q, 'v', v)));
      for (const [i, r] of added.entries()) assert.deepEqual((await store.get(r.id))!.data, values[i], `get ${i}`);
      const listed = (await store.list({ queue: q, order: 'asc', limit: 100 })).jobs;
      assert.deepEqual(listed.map((j) => j.data), values);
      const claimed = await store.claim({ ...W, queues: [q], limit: 100 });
      assert.deepEqual(new Map(claimed.map((j) => [j.id, j.data])), new Map(added.map((r, i) => [r.id, values[i]])));
      assert.ok((await store.finish(claimed.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: j.data })))).every(Boolean));
      for (const [i, r] of added.entries()) assert.deepEqual((await store.get(r.id))!.result, values[i], `result ${i}`);
    });

    test("a job's trace context is kept: get and claim return it; untraced jobs have none", async () => {
      const q = freshQueue();
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const [traced] = await store.enqueue([{ ...buildNewJob(q, 't', {}), trace: traceparent }]);
      const plain = await add(store, q, 't');
      assert.equal((await store.get(traced.id))!.trace, traceparent);
      assert.equal((await store.get(plain.id))!.trace, null);
      const claimed = await store.claim({ queues: [q], limit: 2, ...W });
      assert.deepEqual(claimed.map((j) => j.trace).sort(), [traceparent, null].sort());
    });

    test('a chosen jobId dedupes: the second add is a no-op', async () => {
      const q = freshQueue();
      const a = await add(store, q, 't', { v: 1 }, { jobId: `dup-${q}` });
      const b = await add(store, q, 't', { v: 2 }, { jobId: `dup-${q}` });
      assert.equal(a.duplicate, false);
      assert.equal(b.duplicate, true);
      assert.equal(b.id, a.id);
      assert.deepEqual((await store.get(a.id))!.data, { v: 1 });
      assert.equal((await store.counts([q]))[q].queued, 1);
    });

    test('enqueue of many is one step; a missing dependency refuses the whole batch', async () => {
      const q = freshQueue();
      const jobs = [buildNewJob(q, 'a', 1), buildNewJob(q, 'b', 2, { dependsOn: 'nope-' + q })];
      await assert.rejects(store.enqueue(jobs), NotFoundError);
      assert.equal((await store.counts([q]))[q].queued, 0);
      const ok = await store.enqueue([buildNewJob(q, 'a', 1), buildNewJob(q, 'b', 2)]);
      assert.equal(ok.length, 2);
      assert.equal((await store.counts([q]))[q].queued, 2);
    });

    test('claim takes higher priority first, then FIFO', async () => {
      const q = freshQueue();
      const ids: string[] = [];
      for (const [i, p] of [0, 5, 0, 5, -1, 0].entries()) ids.push((await add(store, q, 't', { i }, { priority: p })).id);
      const claimed = await store.claim({ ...W, queues: [q], limit: 10 });
      assert.deepEqual(
        claimed.map((j) => (j.data as { i: number }).i),
        [1, 3, 0, 2, 5, 4],
      );
      assert.ok(claimed.every((j) => j.state === 'active' && j.attempt === 1 && j.workerId === 'w1' && j.token));
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 0);
    });

    test('claim respects its limit and never hands one job to two claimers', async () => {
      const q = freshQueue();
      await store.enqueue(Array.from({ length: 50 }, (_, i) => buildNewJob(q, 't', { i })));
      const first = await store.claim({ ...W, queues: [q], limit: 7 });
      assert.equal(first.length, 7);
      const parallel = await Promise.all(
        Array.from({ length: 6 }, (_, k) => store.claim({ queues: [q], workerId: `w${k}`, limit: 10, leaseMs: 30_000 })),
      );
      const all = [...first, ...parallel.flat()].map((j) => j.id);
      assert.equal(all.length, 50);
      assert.equal(new Set(all).size, 50);
    });

    test('claim by names takes only those job types', async () => {
      const q = freshQueue();
      await add(store, q, 'resize', {});
      await add(store, q, 'email', {});
      const got = await store.claim({ ...W, queues: [q], limit: 5, names: ['email'] });
      assert.deepEqual(got.map((j) => j.name), ['email']);
      const rest = await store.claim({ ...W, queues: [q], limit: 5 });
      assert.deepEqual(rest.map((j) => j.name), ['resize']);
    });

    test('delayed jobs are scheduled, then claimable when due; wait wakes at the due time', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', {}, { delay: 300 });
      assert.equal(r.state, 'scheduled');
      const job = await store.get(r.id);
      assert.equal(job!.runAt, clock.now() + 300);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 })).length, 0);
      let woke = false;
      const waiting = store.wait([q], 5000).then(() => (woke = true));
      clock.advance(299);
      // A round trip to the store: anything the advance set off has happened by its answer.
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 })).length, 0);
      assert.equal(woke, false, 'not due yet: wait keeps sleeping');
      clock.advance(1);
      await waiting;
      const got = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(got.length, 1);
      assert.equal(got[0].id, r.id);
    });

    test('wait resolves on enqueue, on abort, and on timeout', async () => {
      const q = freshQueue();
      // A claim first: the store then knows the queue, and wait() starts waiting at once.
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 })).length, 0);
      const waiting = store.wait([q], 10_000);
      await add(store, q, 't');
      const t0 = Date.now();
      await waiting;
      assert.ok(Date.now() - t0 < 2000);
      const ac = new AbortController();
      const aborted = store.wait([freshQueue()], 10_000, ac.signal);
      ac.abort();
      await aborted;
      let timedOut = false;
      const quiet = freshQueue();
      assert.equal((await store.claim({ ...W, queues: [quiet], limit: 1 })).length, 0);
      const timing = store.wait([quiet], 50).then(() => (timedOut = true));
      await store.counts([quiet]);
      assert.equal(timedOut, false, 'the timeout is on the store clock, which has not moved');
      clock.advance(50);
      await timing;
    });

    test("wait's timeout counts from the call, even when time moves before the store has answered anything", async () => {
      const quiet = freshQueue();
      assert.equal((await store.claim({ ...W, queues: [quiet], limit: 1 })).length, 0);
      const timing = store.wait([quiet], 50);
      // No await in between: the clock moves while wait() may still be talking to the store.
      clock.advance(50);
      await timing;
    });

    test('expiry: a job not started by its latest start ends canceled "expired" (at claim, or by maintain); one started in time runs', async () => {
      const q = freshQueue();
      const idle = freshQueue();
      const seen: JobEvent[] = [];
      const off = store.subscribe((e) => (e.queue === q || e.queue === idle) && e.type === 'canceled' && seen.push(e));
      const late = await add(store, q, 't', { n: 1 }, { expiresIn: 100 });
      const onTime = await add(store, q, 't', { n: 2 }, { expiresIn: 10_000 });
      const pending = await add(store, idle, 't', {}, { start: false, expiresIn: 100 });
      const delayed = await add(store, idle, 't', {}, { delay: 50, expiresIn: 100 });
      assert.equal((await store.get(late.id))!.startBy, clock.now() + 100);
      clock.advance(99);
      assert.equal((await store.maintain()).promoted, 1, 'the delayed job comes due at 50; nothing has expired yet');
      clock.advance(1);
      const got = await store.claim({ ...W, queues: [q], limit: 5 });
      assert.deepEqual(got.map((j) => j.id), [onTime.id], 'the expired job is not handed out');
      const l = (await store.get(late.id))!;
      assert.deepEqual([l.state, l.message, l.attempt, l.errors.length], ['canceled', 'expired', 0, 0], 'never run, not failed');
      await store.maintain();
      for (const id of [pending.id, delayed.id]) assert.deepEqual([(await store.get(id))!.state, (await store.get(id))!.message], ['canceled', 'expired']);
      await waitFor(() => seen.length >= 3);
      off();
      assert.deepEqual(seen.map((e) => e.message), ['expired', 'expired', 'expired']);
      assert.equal((await store.counts([idle]))[idle].canceled, 2);
      assert.throws(() => buildNewJob(q, 't', {}, { delay: 500, expiresIn: 100 }), /expire before it can start/);
    });

    test('pending jobs wait for promote (start) and then run', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', {}, { start: false });
      assert.equal(r.state, 'pending');
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 })).length, 0);
      assert.deepEqual(await store.promote([r.id, 'missing']), [r.id]);
      assert.equal((await store.get(r.id))!.state, 'queued');
      assert.deepEqual(await store.promote([r.id]), []);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 }))[0].id, r.id);
    });

    test('promote runs a scheduled job now', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', {}, { delay: 60_000 });
      assert.deepEqual(await store.promote([r.id]), [r.id]);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 }))[0].id, r.id);
    });

    test('a claimed job is what get() reads right after the claim, on a first and on a later attempt', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', { x: 'y'.repeat(200) }, { attempts: 2 });
      const [first] = await store.claim({ ...W, queues: [q], limit: 1 });
      const { token: t1, ...seen1 } = first;
      assert.deepEqual(seen1, await store.get(r.id));
      assert.equal(first.attempt, 1);
      assert.ok(first.leaseUntil! >= first.startedAt! + W.leaseMs);
      // A message, logs and an error from attempt 1 must come through attempt 2's claim right.
      await store.update([{ id: r.id, token: t1, progress: 30, message: 'half', logs: [{ stream: 'log', line: 'l1' }] }]);
      await store.finish([failure(first, 'e1', { retryDelayMs: 0 })]);
      const [second] = await store.claim({ ...W, workerId: 'w2', queues: [q], limit: 1 });
      const { token: t2, ...seen2 } = second;
      assert.notEqual(t2, t1);
      assert.deepEqual(seen2, await store.get(r.id));
      assert.equal(second.attempt, 2);
      assert.equal(second.workerId, 'w2');
      assert.equal(second.progress, 0);
      assert.equal(second.message, null);
      assert.equal(second.logCount, 1);
      assert.deepEqual(second.errors.map((e) => e.message), ['e1']);
    });

    test('complete stores the result; a stale or wrong token is fenced out', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', { x: 1 });
      const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.deepEqual(await store.finish([{ id: job.id, token: 'wrong', kind: 'completed', result: 1 }]), [false]);
      assert.equal((await store.get(r.id))!.state, 'active');
      assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: { ok: true } }]), [true]);
      const done = await store.get(r.id);
      assert.equal(done!.state, 'completed');
      assert.deepEqual(done!.result, { ok: true });
      assert.ok(done!.finishedAt! >= done!.startedAt!);
      assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: 2 }]), [false]);
      assert.deepEqual((await store.get(r.id))!.result, { ok: true });
    });

    test('NUL and unpaired surrogates in a result, an error, a message or a log line never block a finish (kept, or U+FFFD where the backend cannot store them)', async () => {
      const q = freshQueue();
      const odd = 'a\u0000b\ud800c';
      // A backend keeps each character, or U+FFFD in place of one it cannot store (an unpaired
      // surrogate has no UTF-8 form; PostgreSQL stores no NUL).
      const kept = (s: unknown) => assert.ok(['a\u0000b\ud800c', 'a\u0000b\ufffdc', 'a\ufffdb\ufffdc'].includes(String(s)), JSON.stringify(s));
      await store.enqueue([buildNewJob(q, 't', {}), buildNewJob(q, 't', {})]);
      const [a, b] = await store.claim({ ...W, queues: [q], limit: 2 });
      assert.deepEqual(await store.update([{ id: a.id, token: a.token, progress: 5, message: odd, logs: [{ stream: 'log', line: odd }] }]), [true]);
      assert.deepEqual(await store.finish([{ id: a.id, token: a.token, kind: 'completed', result: { [odd]: odd, list: [odd] } }, failure(b, odd, { retry: false })]), [true, true]);
      const done = (await store.get(a.id))!;
      assert.equal(done.state, 'completed');
      kept(done.message);
      const [key] = Object.keys(done.result as object).filter((k) => k !== 'list');
      kept(key);
      kept((done.result as Record<string, unknown>)[key]);
      kept((done.result as { list: string[] }).list[0]);
      kept((await store.logs(a.id))[0].line);
      const failed = (await store.get(b.id))!;
      assert.equal(failed.state, 'failed');
      kept(failed.errors[0].message);
    });

    test('an id or filter with a NUL names nothing stored: every call answers as for an unknown id, none fails', async () => {
      const q = freshQueue();
      await add(store, q, 't');
      const odd = 'a\u0000b';
      assert.equal(await store.get(odd), null);
      await assert.rejects(store.logs(odd), NotFoundError);
      assert.deepEqual(await store.dependents(odd), []);
      for (const op of ['cancel', 'remove', 'retry', 'promote'] as const) assert.deepEqual(await store[op]([odd]), [], op);
      assert.deepEqual(await store.finish([{ id: odd, token: odd, kind: 'completed', result: 1 }]), [false]);
      assert.deepEqual(await store.extend([{ id: odd, token: 't' }], 1000), [false]);
      assert.deepEqual(await store.update([{ id: odd, progress: 5 }]), [false]);
      for (const filter of [{ queue: q, text: odd }, { queue: q, name: odd }, { queue: odd }]) assert.deepEqual((await store.list(filter)).jobs, [], JSON.stringify(filter));
      assert.equal((await store.list({ queue: q })).jobs.length, 1);
    });

    test('finish many in one call, mixed outcomes', async () => {
      const q = freshQueue();
      await store.enqueue(Array.from({ length: 4 }, (_, i) => buildNewJob(q, 't', { i })));
      const jobs = await store.claim({ ...W, queues: [q], limit: 4 });
      const res = await store.finish([
        { id: jobs[0].id, token: jobs[0].token, kind: 'completed', result: 0 },
        failure(jobs[1], 'boom', {}, 'Error: boom\n  at x'),
        { id: jobs[2].id, token: 'stale', kind: 'completed', result: 2 },
        { id: jobs[3].id, token: jobs[3].token, kind: 'completed', result: 3 },
      ]);
      assert.deepEqual(res, [true, true, false, true]);
      const c = (await store.counts([q]))[q];
      assert.equal(c.completed, 2);
      assert.equal(c.failed, 1);
      assert.equal(c.active, 1);
      const failed = await store.get(jobs[1].id);
      assert.equal(failed!.errors.length, 1);
      assert.equal(failed!.errors[0].message, 'boom');
      assert.match(failed!.errors[0].stack!, /at x/);
    });

    test('finishAndClaim: the outcomes as finish() writes them, then a claim that sees them (a retry due now is taken again)', async () => {
      const q = freshQueue();
      await store.enqueue([buildNewJob(q, 't', { i: 0 }, { attempts: 2, backoff: [0] }), ...[1, 2, 3].map((i) => buildNewJob(q, 't', { i }))]);
      const first = await store.claim({ ...W, queues: [q], limit: 3 });
      assert.deepEqual(first.map((j) => (j.data as { i: number }).i), [0, 1, 2]);
      const { finished, claimed } = await store.finishAndClaim(
        [failure(first[0], 'boom'), { id: first[1].id, token: first[1].token, kind: 'completed', result: 'one' }, { id: first[2].id, token: 'stale', kind: 'completed', result: 2 }],
        { ...W, workerId: 'w2', queues: [q], limit: 5 },
      );
      assert.deepEqual(finished, [true, true, false]);
      // Job 3 was queued all along; job 0 failed its first attempt and is queued again, ahead of it in line.
      assert.deepEqual(claimed.map((j) => [(j.data as { i: number }).i, j.attempt, j.workerId]).sort(), [[0, 2, 'w2'], [3, 1, 'w2']]);
      assert.equal((await store.get(first[1].id))!.result, 'one');
      assert.equal((await store.get(first[0].id))!.errors[0].message, 'boom');
      assert.equal((await store.get(first[2].id))!.state, 'active', 'fenced out: still held by its claim');
      const again = claimed.find((j) => (j.data as { i: number }).i === 0)!;
      assert.deepEqual(await store.get(again.id).then((j) => [j!.state, j!.workerId]), ['active', 'w2']);
      // Nothing to finish, or nothing to claim: each half still does its part.
      const none = await store.finishAndClaim([], { ...W, queues: [q], limit: 5 });
      assert.deepEqual(none, { finished: [], claimed: [] });
      const last = await store.finishAndClaim(
        claimed.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })),
        { ...W, queues: [freshQueue()], limit: 1 },
      );
      assert.deepEqual(last, { finished: [true, true], claimed: [] });
      assert.equal((await store.counts([q]))[q].completed, 3);
    });

    test('a failed attempt retries with backoff until attempts run out, keeping each error', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', {}, { attempts: 3, backoff: [0, 200] });
      let [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([failure(job, 'e1')]);
      assert.equal((await store.get(r.id))!.state, 'queued', 'first interval is 0: straight back to queued');
      [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(job.attempt, 2);
      await store.finish([failure(job, 'e2')]);
      const s = await store.get(r.id);
      assert.equal(s!.state, 'scheduled');
      assert.equal(s!.runAt, clock.now() + 200);
      clock.advance(199);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 1 })).length, 0, 'not due yet');
      clock.advance(1);
      [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(job.attempt, 3);
      await store.finish([failure(job, 'e3')]);
      const f = await store.get(r.id);
      assert.equal(f!.state, 'failed');
      assert.deepEqual(f!.errors.map((e) => [e.attempt, e.message]), [[1, 'e1'], [2, 'e2'], [3, 'e3']]);
    });

    test('retry: false fails for good; retryDelayMs overrides the backoff', async () => {
      const q = freshQueue();
      const a = await add(store, q, 'a', {}, { attempts: 5 });
      const b = await add(store, q, 'b', {}, { attempts: 5 });
      const jobs = await store.claim({ ...W, queues: [q], limit: 2 });
      const ja = jobs.find((j) => j.id === a.id)!;
      const jb = jobs.find((j) => j.id === b.id)!;
      await store.finish([
        failure(ja, 'fatal', { retry: false }),
        failure(jb, 'later', { retryDelayMs: 60_000 }),
      ]);
      assert.equal((await store.get(a.id))!.state, 'failed');
      const sb = await store.get(b.id);
      assert.equal(sb!.state, 'scheduled');
      assert.equal(sb!.runAt, clock.now() + 60_000);
    });

    test('release: a job handed back by a stopping worker is queued again even on its last attempt', async () => {
      const q = freshQueue();
      const a = await add(store, q, 'a', {}, { attempts: 1 });
      const [ja] = await store.claim({ ...W, queues: [q], limit: 1 });
      const [ok] = await store.finish([failure(ja, 'worker shutting down', { release: true })]);
      assert.equal(ok, true);
      const job = await store.get(a.id);
      assert.equal(job!.state, 'queued');
      assert.equal(job!.errors.length, 1);
      const [again] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(again.id, a.id);
    });

    test('retry() puts failed and canceled jobs back with a fresh attempt count', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't');
      const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([failure(job, 'x')]);
      const c = await add(store, q, 't');
      await store.cancel([c.id]);
      assert.deepEqual((await store.retry([r.id, c.id, 'missing'])).sort(), [r.id, c.id].sort());
      const again = await store.get(r.id);
      assert.equal(again!.state, 'queued');
      assert.equal(again!.attempt, 0);
      assert.equal(again!.errors.length, 1, 'old errors are kept for the record');
      assert.deepEqual(await store.retry([r.id]), [], 'a queued job is not retried');
    });

    test('a dependent counts its unfinished dependencies down and is ready when the last one finishes', async () => {
      const q = freshQueue();
      const parents = [];
      for (let i = 0; i < 3; i++) parents.push(await add(store, q, 'p'));
      const done = await add(store, q, 'p');
      const [p0] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(p0.id, parents[0].id);
      const child = await add(store, q, 'c', {}, { dependsOn: [...parents.map((p) => p.id), done.id] });
      assert.deepEqual([(await store.get(child.id))!.state, (await store.get(child.id))!.waitingOn], ['deferred', 4]);
      await store.finish([{ id: p0.id, token: p0.token, kind: 'completed', result: null }]);
      assert.equal((await store.get(child.id))!.waitingOn, 3);
      const rest = await store.claim({ ...W, queues: [q], limit: 3 });
      assert.deepEqual(rest.map((j) => j.id).sort(), [parents[1].id, parents[2].id, done.id].sort());
      await store.finish(rest.slice(0, 2).map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
      assert.deepEqual([(await store.get(child.id))!.state, (await store.get(child.id))!.waitingOn], ['deferred', 1]);
      await store.finish([{ id: rest[2].id, token: rest[2].token, kind: 'completed', result: null }]);
      assert.deepEqual([(await store.get(child.id))!.state, (await store.get(child.id))!.waitingOn], ['queued', null]);
      // Added without starting, then promoted: counted from the dependencies' states then.
      const parent = await add(store, q, 'p');
      const later = await add(store, q, 'c', {}, { dependsOn: [parent.id, done.id], start: false });
      assert.deepEqual(await store.promote([later.id]), [later.id]);
      assert.deepEqual([(await store.get(later.id))!.state, (await store.get(later.id))!.waitingOn], ['deferred', 1]);
    });

    test('dependents: the jobs waiting on a job, until it finishes and releases them', async () => {
      const q = freshQueue();
      const parent = await add(store, q, 'p');
      const a = await add(store, q, 'c', {}, { dependsOn: parent.id });
      const b = await add(store, q, 'c', {}, { dependsOn: [parent.id] });
      assert.deepEqual(await store.dependents(parent.id), [a.id, b.id].sort());
      assert.deepEqual(await store.dependents(a.id), []);
      assert.deepEqual(await store.dependents('no-such-job'), []);
      const [p] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([{ id: p.id, token: p.token, kind: 'completed', result: null }]);
      assert.deepEqual(await store.dependents(parent.id), [], 'released');
      assert.equal((await store.get(a.id))!.state, 'queued');
    });

    test("history: finished jobs per queue and minute on the store's clock; a retried attempt is no failure; filters by queue and time", async () => {
      const q = freshQueue();
      const other = freshQueue();
      const start = clock.now();
      const minute = Math.floor(start / 60_000) * 60_000;
      for (let i = 0; i < 3; i++) await add(store, q, 't');
      await add(store, q, 'again', {}, { attempts: 2 });
      await add(store, other, 't');
      const jobs = await store.claim({ ...W, queues: [q], limit: 4 });
      const byName = (n: string) => jobs.filter((j) => j.name === n);
      const [a, b, c] = byName('t');
      await store.finish([
        { id: a.id, token: a.token, kind: 'completed', result: null },
        { id: b.id, token: b.token, kind: 'completed', result: null },
        failure(c, 'for good'),
        failure(byName('again')[0], 'will retry'),
      ]);
      clock.advance(60_000);
      const [o] = await store.claim({ ...W, queues: [other], limit: 1 });
      await store.finish([{ id: o.id, token: o.token, kind: 'completed', result: null }]);
      assert.deepEqual(await store.history(start, [q, other]), [
        { queue: q, at: minute, completed: 2, failed: 1 },
        { queue: other, at: minute + 60_000, completed: 1, failed: 0 },
      ]);
      assert.deepEqual(await store.history(minute + 60_000, [q, other]), [{ queue: other, at: minute + 60_000, completed: 1, failed: 0 }]);
      assert.deepEqual(await store.history(start, [q]), [{ queue: q, at: minute, completed: 2, failed: 1 }]);
      assert.ok((await store.history(start)).some((t) => t.queue === other), 'all queues when none are named');
      // Kept for a day: a minute that old is gone, upkeep or not.
      clock.advance(24 * 3600_000);
      await store.maintain();
      assert.deepEqual(await store.history(start, [q]), []);
      assert.deepEqual(await store.history(start, [other]), [{ queue: other, at: minute + 60_000, completed: 1, failed: 0 }]);
    });

    test("deadLetter: a job that fails for good moves there with its errors, under that queue's retention; retry sends it back", async () => {
      const q = freshQueue();
      const dlq = freshQueue('dead');
      await store.configureQueue(dlq, { failureTtlMs: 60_000 });
      await store.configureQueue(q, { deadLetter: dlq });
      const r = await add(store, q, 't', { v: 1 }, { attempts: 2 });
      let [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([failure(job, 'first')]);
      assert.deepEqual([(await store.get(r.id))!.queue, (await store.get(r.id))!.state], [q, 'queued'], 'a retry stays in its queue');
      [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([failure(job, 'second')]);
      const dead = (await store.get(r.id))!;
      assert.deepEqual([dead.queue, dead.state, dead.originalQueue, dead.errors.map((e) => e.message)], [dlq, 'failed', q, ['first', 'second']]);
      assert.deepEqual(dead.data, { v: 1 });
      assert.equal(dead.expiresAt, clock.now() + 60_000, "the dead-letter queue's failureTtlMs applies");
      const counts = await store.counts([q, dlq]);
      assert.deepEqual([counts[q].failed, counts[dlq].failed], [0, 1]);
      assert.deepEqual((await store.list({ queue: dlq, states: ['failed'] })).jobs.map((j) => j.id), [r.id]);
      assert.deepEqual((await store.list({ queue: q })).jobs, []);
      // A canceled job is not a failure: it stays.
      const c = await add(store, q, 't');
      await store.cancel([c.id]);
      assert.equal((await store.get(c.id))!.queue, q);

      assert.deepEqual(await store.retry([r.id]), [r.id]);
      const back = (await store.get(r.id))!;
      assert.deepEqual([back.queue, back.state, back.originalQueue, back.attempt, back.expiresAt], [q, 'queued', null, 0, null]);
      const after = await store.counts([q, dlq]);
      assert.deepEqual([after[q].queued, after[dlq].failed], [1, 0]);
      const [again] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(again.id, r.id);
      await store.finish([{ id: again.id, token: again.token, kind: 'completed', result: 'ok' }]);
      assert.equal((await store.get(r.id))!.state, 'completed');
    });

    test('extend keeps a lease; an expired lease is reclaimed by maintain: run again (one run past attempts), then failed', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't', {}, { attempts: 1 });
      let [job] = await store.claim({ queues: [q], workerId: 'dies', limit: 1, leaseMs: 150 });
      assert.deepEqual(await store.extend([{ id: job.id, token: job.token }, { id: job.id, token: 'x' }], 150), [true, false]);
      assert.equal((await store.maintain()).reclaimed, 0);
      clock.advance(149);
      assert.equal((await store.maintain()).reclaimed, 0, 'the lease runs 150 ms from the extend');
      clock.advance(1);
      const rep = await store.maintain();
      assert.equal(rep.reclaimed, 1);
      const s = await store.get(r.id);
      assert.equal(s!.state, 'queued');
      assert.match(s!.errors[0].message, /stalled|lease/);
      assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: 1 }]), [false], 'the lost lease is fenced');
      assert.deepEqual(await store.extend([{ id: job.id, token: job.token }], 1000), [false]);
      [job] = await store.claim({ queues: [q], workerId: 'dies-again', limit: 1, leaseMs: 100 });
      assert.equal(job.attempt, 2);
      clock.advance(100);
      await store.maintain();
      assert.equal((await store.get(r.id))!.state, 'failed');
      assert.equal((await store.maintain()).reclaimed, 0, 'maintain is idempotent');
    });

    test('a reclaim overtaken by a heartbeat is refused: the lease is alive again', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't');
      const [job] = await store.claim({ queues: [q], workerId: 'slow', limit: 1, leaseMs: 100 });
      clock.advance(100);
      const reclaim = stallOutcome(job, job.token, clock.now());
      assert.deepEqual(await store.extend([{ id: job.id, token: job.token }], 100), [true]);
      assert.deepEqual(await store.finish([reclaim]), [false]);
      assert.equal((await store.get(r.id))!.state, 'active');
      clock.advance(100);
      assert.deepEqual(await store.finish([stallOutcome(job, job.token, clock.now())]), [true]);
      const s = (await store.get(r.id))!;
      assert.equal(s.state, 'queued');
      assert.match(s.errors[0].message, /worker slow stopped heartbeating/);
    });

    test('schedules: saved, listed by queue in id order, advanced only from the progress expected, removed', async () => {
      const q = freshQueue();
      const base = buildSchedule(q, 'b', { every: 1000, name: 't', data: { big: 12345678901234 } }, clock.now());
      await store.saveSchedule({ ...base, nextRunAt: clock.now() });
      await store.saveSchedule({ ...base, id: 'a', nextRunAt: null });
      await store.saveSchedule({ ...base, queue: freshQueue(), nextRunAt: 5 });
      const listed = await store.schedules(q);
      assert.deepEqual(listed.map((x) => x.id), ['a', 'b']);
      assert.deepEqual(listed[1], { ...base, nextRunAt: clock.now() }, 'read back as saved');
      assert.ok((await store.schedules()).length >= 3);
      const from = progressOf(listed[1]);
      const next = { nextRunAt: clock.now() + 1000, runs: 1, skips: 0, lastRunAt: clock.now(), lastJobId: 'j1' };
      assert.equal(await store.advanceSchedule(q, 'b', from, next), true);
      assert.equal(await store.advanceSchedule(q, 'b', from, { ...next, runs: 9 }), false, 'the progress moved on: a second round loses');
      assert.deepEqual(progressOf((await store.schedules(q))[1]), next);
      assert.equal(await store.advanceSchedule(q, 'missing', from, next), false);
      assert.equal(await store.removeSchedule(q, 'b'), true);
      assert.equal(await store.removeSchedule(q, 'b'), false);
      assert.deepEqual((await store.schedules(q)).map((x) => x.id), ['a']);
    });

    test('leadership: one holder at a time, renewed while it reports, taken over when it falls silent', async () => {
      const role = freshQueue('role');
      assert.equal(await store.lead(role, 'a', 1000), true);
      assert.equal(await store.lead(role, 'b', 1000), false);
      clock.advance(600);
      assert.equal(await store.lead(role, 'a', 1000), true, 'the holder renews');
      clock.advance(600);
      assert.equal(await store.lead(role, 'b', 1000), false, 'renewed at +600: still held at +1200');
      clock.advance(400);
      assert.equal(await store.lead(role, 'b', 1000), true, 'a fell silent: b takes over');
      assert.equal(await store.lead(role, 'a', 1000), false);
      await store.resign(role, 'a');
      assert.equal(await store.lead(role, 'a', 1000), false, 'only the holder can resign');
      await store.resign(role, 'b');
      assert.equal(await store.lead(role, 'a', 1000), true, 'resigned: free at once');
      assert.equal(await store.lead(freshQueue('role'), 'b', 1000), true, 'roles are independent');
    });

    test('cancel waiting and active jobs; the active one loses its lease', async () => {
      const q = freshQueue();
      const waiting = await add(store, q, 't', {}, { delay: 60_000 });
      const running = await add(store, q, 't');
      const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal(job.id, running.id);
      const events: JobEvent[] = [];
      const off = store.subscribe((e) => e.jobId === running.id && events.push(e));
      assert.deepEqual((await store.cancel([waiting.id, running.id, 'missing'], 'user asked')).sort(), [waiting.id, running.id].sort());
      const c = await store.get(running.id);
      assert.equal(c!.state, 'canceled');
      assert.deepEqual(await store.extend([{ id: job.id, token: job.token }], 1000), [false]);
      assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: 1 }]), [false]);
      assert.equal((await store.get(running.id))!.state, 'canceled');
      assert.deepEqual(await store.cancel([running.id]), [], 'already canceled');
      await waitFor(() => events.some((e) => e.type === 'canceled'));
      off();
    });

    test('remove deletes jobs in any state; removed jobs are gone', async () => {
      const q = freshQueue();
      const a = await add(store, q, 't');
      const b = await add(store, q, 't');
      const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.deepEqual((await store.remove([a.id, b.id, 'missing'])).sort(), [a.id, b.id].sort());
      assert.equal(await store.get(a.id), null);
      assert.equal(await store.get(b.id), null);
      assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: 1 }]), [false]);
      const c = (await store.counts([q]))[q];
      assert.equal(c.queued + c.active + c.completed, 0);
    });

    test('dependencies: deferred until the parent completes, then queued', async () => {
      const q = freshQueue();
      const parent = await add(store, q, 'p');
      const child = await add(store, q, 'c', {}, { dependsOn: parent.id });
      assert.equal(child.state, 'deferred');
      const [pj] = await store.claim({ ...W, queues: [q], limit: 5 });
      assert.equal(pj.id, parent.id, 'the child is not claimable yet');
      await store.finish([{ id: pj.id, token: pj.token, kind: 'completed', result: null }]);
      assert.equal((await store.get(child.id))!.state, 'queued');
      const after = await add(store, q, 'c2', {}, { dependsOn: parent.id });
      assert.equal(after.state, 'queued', 'a completed parent does not hold anyone back');
    });

    test('dependencies: a failed parent fails the child, or lets it run under "ignore"', async () => {
      const q = freshQueue();
      const parent = await add(store, q, 'p');
      const strict = await add(store, q, 'c', {}, { dependsOn: parent.id });
      const lenient = await add(store, q, 'c', {}, { dependsOn: parent.id, onParentFailure: 'ignore' });
      const grandchild = await add(store, q, 'g', {}, { dependsOn: strict.id });
      const [pj] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([failure(pj, 'parent broke')]);
      const s = await store.get(strict.id);
      assert.equal(s!.state, 'failed');
      assert.match(s!.errors[0].message, new RegExp(parent.id));
      assert.equal((await store.get(grandchild.id))!.state, 'failed', 'failure cascades');
      assert.equal((await store.get(lenient.id))!.state, 'queued');
      const late = await add(store, q, 'c', {}, { dependsOn: parent.id });
      assert.equal(late.state, 'failed');
    });

    test('dependencies: removing or canceling a parent fails its deferred children, or releases them under "ignore"', async () => {
      const q = freshQueue();
      const p1 = await add(store, q, 'p', {}, { delay: 60_000 });
      const c1 = await add(store, q, 'c', {}, { dependsOn: p1.id });
      const p2 = await add(store, q, 'p', {}, { delay: 60_000 });
      const c2 = await add(store, q, 'c', {}, { dependsOn: p2.id });
      const c3 = await add(store, q, 'c', {}, { dependsOn: p2.id, onParentFailure: 'ignore' });
      assert.deepEqual(await store.remove([p1.id]), [p1.id]);
      const f1 = (await store.get(c1.id))!;
      assert.equal(f1.state, 'failed');
      assert.match(f1.errors[0].message, new RegExp(p1.id));
      assert.deepEqual(await store.cancel([p2.id]), [p2.id]);
      assert.equal((await store.get(c2.id))!.state, 'failed');
      assert.equal((await store.get(c3.id))!.state, 'queued');
    });

    test('dependencies within one batch, and a child with a delay is scheduled once released', async () => {
      const q = freshQueue();
      const p = buildNewJob(q, 'p', {}, { jobId: `p-${q}` });
      const c = buildNewJob(q, 'c', {}, { dependsOn: p.id, delay: 60_000 });
      const [, cr] = await store.enqueue([p, c]);
      assert.equal(cr.state, 'deferred');
      const [pj] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([{ id: pj.id, token: pj.token, kind: 'completed', result: null }]);
      assert.equal((await store.get(c.id))!.state, 'scheduled');
    });

    test('pause stops claims for the queue only; resume restarts them', async () => {
      const q = freshQueue();
      const other = freshQueue();
      await add(store, q, 't');
      await add(store, other, 't');
      const cfg = await store.configureQueue(q, { paused: true });
      assert.equal(cfg.paused, true);
      assert.equal((await store.queueConfig(q)).paused, true);
      const got = await store.claim({ ...W, queues: [q, other], limit: 5 });
      assert.deepEqual(got.map((j) => j.queue), [other]);
      await store.configureQueue(q, { paused: false });
      assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 1);
    });

    test('queue concurrency caps active jobs across claimers', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { concurrency: 2 });
      await store.enqueue(Array.from({ length: 5 }, () => buildNewJob(q, 't', {})));
      const a = await store.claim({ ...W, queues: [q], limit: 5 });
      const b = await store.claim({ queues: [q], workerId: 'w2', limit: 5, leaseMs: 30_000 });
      assert.equal(a.length + b.length, 2);
      await store.finish([{ id: a[0].id, token: a[0].token, kind: 'completed', result: null }]);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 1);
    });

    test('group concurrency: one group cannot take all the slots', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { groupConcurrency: 1 });
      await store.enqueue([
        buildNewJob(q, 't', { g: 'a1' }, { group: 'a' }),
        buildNewJob(q, 't', { g: 'a2' }, { group: 'a' }),
        buildNewJob(q, 't', { g: 'b1' }, { group: 'b' }),
      ]);
      const got = await store.claim({ ...W, queues: [q], limit: 5 });
      assert.deepEqual(got.map((j) => (j.data as { g: string }).g).sort(), ['a1', 'b1']);
    });

    test('group concurrency: a finish, a failure and a cancel each free the group slot', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { groupConcurrency: 1 });
      await store.enqueue(['a1', 'a2', 'a3', 'a4'].map((g) => buildNewJob(q, 't', { g }, { group: 'a' })));
      const next = async () => {
        const got = await store.claim({ ...W, queues: [q], limit: 5 });
        assert.equal(got.length, 1, 'one at a time in the group');
        assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 0, 'the slot is taken');
        return got[0];
      };
      let j = await next();
      assert.equal((j.data as { g: string }).g, 'a1');
      await store.finish([{ id: j.id, token: j.token, kind: 'completed', result: null }]);
      j = await next();
      assert.equal((j.data as { g: string }).g, 'a2');
      await store.finish([failure(j, 'x', { retry: false })]);
      j = await next();
      assert.equal((j.data as { g: string }).g, 'a3');
      await store.cancel([j.id]);
      j = await next();
      assert.equal((j.data as { g: string }).g, 'a4');
    });

    /** Claims one job at a time and names each by its data's group and number ("a0"). */
    async function claimOneByOne(q: string, n: number): Promise<string[]> {
      const order: string[] = [];
      for (let k = 0; k < n; k++) {
        const [j] = await store.claim({ ...W, queues: [q], limit: 1 });
        assert.ok(j, `claim ${k + 1} of ${n} found a job`);
        const d = j.data as { g: string; i: number };
        order.push(`${d.g}${d.i}`);
      }
      return order;
    }

    /** Cuts a claim order into rounds of the given sizes; within a round groups may come in any order. */
    function rounds(order: string[], sizes: number[]): string[][] {
      let at = 0;
      return sizes.map((n) => order.slice(at, (at += n)).sort());
    }

    const inGroup = (q: string, g: string, n: number, opts: JobOptions = {}, from = 0) =>
      Array.from({ length: n }, (_, i) => buildNewJob(q, 't', { g, i: from + i }, { group: g, ...opts }));

    test('fair shares: groups take turns, so a group that adds much cannot starve one that adds little', async () => {
      const q = freshQueue();
      await store.enqueue(inGroup(q, 'a', 20));
      await store.enqueue(inGroup(q, 'b', 3));
      await store.enqueue(inGroup(q, 'c', 1));
      const order = await claimOneByOne(q, 9);
      assert.deepEqual(rounds(order, [1, 3, 2, 2, 1]), [['a0'], ['a1', 'b0', 'c0'], ['a2', 'b1'], ['a3', 'b2'], ['a4']]);
      // One claim of many takes the same turns.
      const q2 = freshQueue();
      await store.enqueue(inGroup(q2, 'a', 20));
      await store.enqueue(inGroup(q2, 'b', 3));
      const got = await store.claim({ ...W, queues: [q2], limit: 5 });
      assert.deepEqual(got.map((j) => `${(j.data as { g: string }).g}${(j.data as { i: number }).i}`).sort(), ['a0', 'a1', 'a2', 'b0', 'b1']);
    });

    test('fair shares: a group joining later starts at the head of the line, not behind the backlog', async () => {
      const q = freshQueue();
      await store.enqueue(inGroup(q, 'a', 10));
      assert.deepEqual(await claimOneByOne(q, 4), ['a0', 'a1', 'a2', 'a3']);
      // Upkeep forgets only turns that can no longer matter.
      await store.maintain();
      await store.enqueue(inGroup(q, 'b', 2));
      // One past the head: the job at the head goes first, then the two groups alternate.
      assert.deepEqual(rounds(await claimOneByOne(q, 5), [1, 2, 2]), [['a4'], ['a5', 'b0'], ['a6', 'b1']]);
    });

    test('fair shares: priority comes first, and still orders the jobs inside a group', async () => {
      const q = freshQueue();
      await store.enqueue(inGroup(q, 'a', 3));
      await store.enqueue(inGroup(q, 'b', 1));
      await store.enqueue(inGroup(q, 'a', 1, { priority: 5 }, 3));
      assert.deepEqual(rounds(await claimOneByOne(q, 5), [1, 1, 2, 1]), [['a3'], ['a0'], ['a1', 'b0'], ['a2']]);
    });

    test('groups: each group with ready or active jobs and its counts, most ready first', async () => {
      const q = freshQueue();
      await store.enqueue([...inGroup(q, 'a', 3), ...inGroup(q, 'b', 1), buildNewJob(q, 't', {}), ...inGroup(q, 'c', 1, { delay: 1000 })]);
      const [first] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal((first.data as { g: string }).g, 'a');
      // The ungrouped job and the scheduled one of c are not counted.
      assert.deepEqual(await store.groups(q), {
        groups: [
          { group: 'a', queued: 2, active: 1 },
          { group: 'b', queued: 1, active: 0 },
        ],
        sampled: false,
      });
      assert.deepEqual((await store.groups(q, 1)).groups.map((g) => g.group), ['a']);
      assert.deepEqual((await store.groups(freshQueue())).groups, []);
    });

    test('fair shares with weights: a group of weight 2 gets two jobs per round', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { groupWeights: { gold: 2 } });
      await store.enqueue(inGroup(q, 'gold', 6));
      await store.enqueue(inGroup(q, 'free', 6));
      // Each round: two of gold, one of free (where the first round starts, at the head or with
      // a pair, is the store's); so nine claims take all six of gold and three of free.
      const order = await claimOneByOne(q, 9);
      assert.deepEqual(order.filter((x) => x.startsWith('gold')), ['gold0', 'gold1', 'gold2', 'gold3', 'gold4', 'gold5'], 'gold in its order');
      assert.deepEqual(order.filter((x) => x.startsWith('free')), ['free0', 'free1', 'free2']);
      const rest = await claimOneByOne(q, 3);
      assert.deepEqual(rest, ['free3', 'free4', 'free5']);
    });

    test('fair shares: a retried job takes its group\'s next turn, not the back of the whole queue', async () => {
      const q = freshQueue();
      await store.enqueue(inGroup(q, 'a', 3, { attempts: 2 }));
      await store.enqueue(inGroup(q, 'b', 6));
      const [first] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal((first.data as { i: number }).i, 0);
      await store.finish([failure(first, 'again')]);
      assert.equal((await store.get(first.id))!.state, 'queued');
      const order = await claimOneByOne(q, 8);
      assert.deepEqual(rounds(order, [2, 2, 2, 1, 1]), [['a1', 'b0'], ['a2', 'b1'], ['a0', 'b2'], ['b3'], ['b4']]);
    });

    test('rate limit: at most max claims per window', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { rateLimit: { max: 3, durationMs: 300 } });
      await store.enqueue(Array.from({ length: 6 }, () => buildNewJob(q, 't', {})));
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 3);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 0);
      clock.advance(299);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 0, 'the window is not over');
      clock.advance(1);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 3);
    });

    /** Resolves once wait() on q returns; `woke()` tells whether it has (after a round trip to the store). */
    function watchWait(q: string, timeoutMs: number) {
      let woke = false;
      const waiting = store.wait([q], timeoutMs).then(() => (woke = true));
      return {
        waiting,
        woke: async () => {
          await store.counts([q]);
          return woke;
        },
      };
    }

    test('rate limit: a worker held back sleeps until the window ends, not until its idle timeout', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { rateLimit: { max: 1, durationMs: 1000 } });
      await store.enqueue([buildNewJob(q, 't', {}), buildNewJob(q, 't', {})]);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 1);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 0);
      const w = watchWait(q, 60_000);
      clock.advance(999);
      assert.equal(await w.woke(), false, 'the window is not over');
      clock.advance(1);
      await w.waiting;
      assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 1);
    });

    test('group rate limit: each group gets max claims per window; a held job keeps its place and is no failure', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { groupRateLimit: { max: 2, durationMs: 1000 } });
      await store.enqueue([...inGroup(q, 'a', 4), ...inGroup(q, 'b', 1)]);
      const first = await store.claim({ ...W, queues: [q], limit: 10 });
      assert.deepEqual(first.map((j) => `${(j.data as { g: string }).g}${(j.data as { i: number }).i}`).sort(), ['a0', 'a1', 'b0']);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 0, 'a has used its two');
      const held = (await store.list({ queue: q, states: ['queued'] })).jobs;
      assert.deepEqual(held.map((j) => [j.attempt, j.errors.length]), [[0, 0], [0, 0]], 'held back, not failed');
      await store.enqueue(inGroup(q, 'c', 1));
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 1, 'another group is not held back by a');
      const w = watchWait(q, 60_000);
      clock.advance(999);
      assert.equal(await w.woke(), false, "a's window is not over");
      clock.advance(1);
      await w.waiting;
      const next = await store.claim({ ...W, queues: [q], limit: 10 });
      assert.deepEqual(next.map((j) => `${(j.data as { g: string }).g}${(j.data as { i: number }).i}`), ['a2', 'a3']);
      await store.maintain();
      assert.equal((await store.claim({ ...W, queues: [q], limit: 10 })).length, 0, 'upkeep keeps the current window');
    });

    test('dedupe "unfinished" (the default): a second add answers with the job while it waits or runs; once it finished, a new job', async () => {
      const q = freshQueue();
      const first = await add(store, q, 't', { n: 1 }, { dedupe: { key: 'report-7' } });
      assert.equal(first.duplicate, false);
      assert.deepEqual([(await store.get(first.id))!.dedupeKey, (await store.get(first.id))!.debounceKey], ['report-7', null], 'the job says which key it took');
      const again = await add(store, q, 't', { n: 2 }, { dedupe: { key: 'report-7' } });
      assert.deepEqual([again.id, again.duplicate, again.state], [first.id, true, 'queued']);
      assert.deepEqual((await store.get(first.id))!.data, { n: 1 }, 'the duplicate changed nothing');
      assert.equal((await add(store, freshQueue(), 't', {}, { dedupe: { key: 'report-7' } })).duplicate, false, 'keys are per queue');
      const [j] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.equal((await add(store, q, 't', {}, { dedupe: { key: 'report-7' } })).id, first.id, 'still unfinished while it runs');
      await store.finish([{ id: j.id, token: j.token, kind: 'completed', result: null }]);
      const after = await add(store, q, 't', { n: 3 }, { dedupe: { key: 'report-7' } });
      assert.equal(after.duplicate, false);
      assert.notEqual(after.id, first.id);
      // Within one batch, the first job takes the key.
      const q2 = freshQueue();
      const batch = await store.enqueue([buildNewJob(q2, 't', 1, { dedupe: { key: 'k' } }), buildNewJob(q2, 't', 2, { dedupe: { key: 'k' } }), buildNewJob(q2, 't', 3)]);
      assert.deepEqual(batch.map((r) => r.duplicate), [false, true, false]);
      assert.equal(batch[1].id, batch[0].id);
      assert.equal((await store.counts([q2]))[q2].queued, 2);
    });

    test('dedupe: twenty concurrent adds of one key make one job, and every answer names it', async () => {
      const q = freshQueue();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => add(store, q, 't', { i }, { dedupe: { key: 'once' } })));
      assert.equal(new Set(answers.map((a) => a.id)).size, 1);
      assert.equal(answers.filter((a) => !a.duplicate).length, 1);
      assert.equal((await store.counts([q]))[q].queued, 1);
      const debounced = await Promise.all(Array.from({ length: 20 }, (_, i) => add(store, q, 'd', { i }, { debounce: { key: 'later', delayMs: 60_000 } })));
      assert.equal(new Set(debounced.map((a) => a.id)).size, 1);
      assert.equal((await store.counts([q]))[q].scheduled, 1);
      await store.cancel([debounced[0].id]);
    });

    test('dedupe "waiting": a running job does not block a new one', async () => {
      const q = freshQueue();
      const first = await add(store, q, 't', {}, { dedupe: { key: 'sync', mode: 'waiting' } });
      assert.equal((await add(store, q, 't', {}, { dedupe: { key: 'sync', mode: 'waiting' } })).id, first.id);
      await store.claim({ ...W, queues: [q], limit: 1 });
      const next = await add(store, q, 't', {}, { dedupe: { key: 'sync', mode: 'waiting' } });
      assert.equal(next.duplicate, false);
      assert.equal((await add(store, q, 't', {}, { dedupe: { key: 'sync', mode: 'waiting' } })).id, next.id, 'the new job holds the key now');
    });

    test('dedupe "window": the key holds for ttlMs after the add, finished or not; upkeep keeps it until then', async () => {
      const q = freshQueue();
      const first = await add(store, q, 't', {}, { dedupe: { key: 'mail', mode: 'window', ttlMs: 1000 } });
      const [j] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.finish([{ id: j.id, token: j.token, kind: 'completed', result: null }]);
      await store.maintain();
      clock.advance(999);
      const dup = await add(store, q, 't', {}, { dedupe: { key: 'mail', mode: 'window', ttlMs: 1000 } });
      assert.deepEqual([dup.id, dup.duplicate, dup.state], [first.id, true, 'completed']);
      clock.advance(1);
      assert.equal((await add(store, q, 't', {}, { dedupe: { key: 'mail', mode: 'window', ttlMs: 1000 } })).duplicate, false);
      // A cap on 'unfinished': the key lets go after ttlMs even while the job waits.
      const capped = await add(store, q, 'u', {}, { dedupe: { key: 'cap', ttlMs: 500 } });
      clock.advance(500);
      assert.notEqual((await add(store, q, 'u', {}, { dedupe: { key: 'cap', ttlMs: 500 } })).id, capped.id);
    });

    test('debounce: adding again while the job waits replaces its data and pushes its run time; once it came due, a new job', async () => {
      const q = freshQueue();
      const first = await add(store, q, 'reindex', { v: 1 }, { debounce: { key: 'doc-5', delayMs: 1000 } });
      assert.deepEqual([first.state, first.duplicate], ['scheduled', false]);
      clock.advance(600);
      const again = await add(store, q, 'reindex', { v: 2 }, { debounce: { key: 'doc-5', delayMs: 1000 } });
      assert.deepEqual([again.id, again.state, again.duplicate, again.debounced], [first.id, 'scheduled', true, true]);
      const job = (await store.get(first.id))!;
      assert.deepEqual(job.data, { v: 2 }, 'the last data wins');
      assert.deepEqual([job.debounceKey, job.dedupeKey], ['doc-5', null]);
      assert.equal(job.runAt, clock.now() + 1000, 'it runs delayMs after the last add');
      clock.advance(999);
      assert.equal((await store.claim({ ...W, queues: [q], limit: 5 })).length, 0, 'not due: the first run time was pushed');
      clock.advance(1);
      const [ran] = await store.claim({ ...W, queues: [q], limit: 5 });
      assert.deepEqual([ran.id, ran.data], [first.id, { v: 2 }]);
      const after = await add(store, q, 'reindex', { v: 3 }, { debounce: { key: 'doc-5', delayMs: 1000 } });
      assert.equal(after.duplicate, false, 'a job that started is not debounced into');
      assert.notEqual(after.id, first.id);
      // Twice in one batch: one job, with the later data; a large value replaces a small one.
      const q2 = freshQueue();
      const big = 'x'.repeat(5000);
      const batch = await store.enqueue([
        buildNewJob(q2, 't', { v: 'a' }, { debounce: { key: 'k', delayMs: 50 } }),
        buildNewJob(q2, 't', { v: 'b' }, { debounce: { key: 'k', delayMs: 50 } }),
      ]);
      assert.deepEqual(batch.map((r) => [r.duplicate, r.debounced === true]), [[false, false], [true, true]]);
      assert.equal(batch[1].id, batch[0].id);
      assert.deepEqual((await store.get(batch[0].id))!.data, { v: 'b' });
      await add(store, q2, 't', { v: big }, { debounce: { key: 'k', delayMs: 50 } });
      assert.deepEqual((await store.get(batch[0].id))!.data, { v: big });
      await add(store, q2, 't', { v: 'small' }, { debounce: { key: 'k', delayMs: 50 } });
      assert.deepEqual((await store.get(batch[0].id))!.data, { v: 'small' });
      assert.equal((await store.counts([q2]))[q2].scheduled, 1);
      // Scheduled jobs left behind would come due in other tests' upkeep counts.
      await store.cancel([after.id, batch[0].id]);
    });

    test('debounce: bad specs and combinations are refused naming the field', async () => {
      for (const [opts, re] of [
        [{ debounce: { key: 'k' } }, /debounce\.delayMs must be a number of milliseconds/],
        [{ debounce: { key: 'k', delayMs: 0 } }, /debounce\.delayMs must be more than 0/],
        [{ debounce: { key: 'k', delayMs: 5, delay: 5 } }, /debounce has an unknown field "delay"/],
        [{ debounce: { key: 'k', delayMs: 5 }, delay: 5 }, /debounce cannot be combined with delay/],
        [{ debounce: { key: 'k', delayMs: 5 }, jobId: 'x' }, /debounce cannot be combined with jobId/],
        [{ debounce: { key: 'k', delayMs: 5 }, start: false }, /debounce cannot be combined with start: false/],
      ] as [JobOptions, RegExp][]) {
        assert.throws(() => buildNewJob(freshQueue(), 't', {}, opts), (err: Error) => err instanceof ValidationError && re.test(err.message), JSON.stringify(opts));
      }
    });

    test('dedupe keys: bad specs are refused naming the field', async () => {
      for (const [spec, re] of [
        [{ key: '' }, /dedupe\.key must be a string of 1-256 characters/],
        [{ key: 'k', mode: 'forever' }, /dedupe\.mode must be "unfinished", "waiting" or "window"/],
        [{ key: 'k', mode: 'window' }, /dedupe mode "window" needs ttlMs/],
        [{ key: 'k', ttlMs: -5 }, /dedupe\.ttlMs must be a number of milliseconds/],
        [{ key: 'k', every: 5 }, /dedupe has an unknown field "every"/],
        ['k', /dedupe must be \{key, mode\?, ttlMs\?\}/],
      ] as [unknown, RegExp][]) {
        assert.throws(() => buildNewJob(freshQueue(), 't', {}, { dedupe: spec as JobOptions['dedupe'] }), (err: Error) => err instanceof ValidationError && re.test(err.message));
      }
    });

    test('max size: reject refuses the whole add and changes nothing', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { maxSize: 3, overflow: 'reject' });
      await store.enqueue([buildNewJob(q, 't', 1), buildNewJob(q, 't', 2)]);
      await assert.rejects(store.enqueue([buildNewJob(q, 't', 3), buildNewJob(q, 't', 4)]), QueueFullError);
      assert.equal((await store.counts([q]))[q].queued, 2);
      await store.enqueue([buildNewJob(q, 't', 3)]);
      assert.equal((await store.counts([q]))[q].queued, 3);
    });

    test('max size: evict-oldest removes the oldest waiting jobs to make room', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { maxSize: 3, overflow: 'evict-oldest' });
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await add(store, q, 't', { i })).id);
      clock.advance(2);
      const r = await add(store, q, 't', { i: 3 });
      assert.equal(r.state, 'queued');
      assert.equal(await store.get(ids[0]), null, 'the oldest is evicted');
      assert.ok(await store.get(ids[1]));
      assert.equal((await store.counts([q]))[q].queued, 3);
    });

    test('per-type limits count unfinished jobs of one name', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { typeLimits: { heavy: 1 } });
      await add(store, q, 'heavy');
      await add(store, q, 'light');
      await add(store, q, 'light');
      await assert.rejects(add(store, q, 'heavy'), QueueFullError);
      const c = (await store.counts([q]))[q];
      assert.equal(c.queued, 3);
    });

    test('progress, message and logs; a worker update is fenced by its token', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't');
      const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      assert.deepEqual(
        await store.update([
          { id: job.id, token: job.token, progress: 40, message: 'resizing', logs: [{ stream: 'stdout', line: 'hello' }, { stream: 'stderr', line: 'warn' }] },
          { id: job.id, token: 'stale', progress: 99 },
        ]),
        [true, false],
      );
      const s = await store.get(r.id);
      assert.equal(s!.progress, 40);
      assert.equal(s!.message, 'resizing');
      assert.equal(s!.logCount, 2);
      await store.update([{ id: job.id, logs: [{ stream: 'log', line: 'third' }] }]);
      const logs = await store.logs(r.id);
      assert.deepEqual(logs.map((l) => [l.seq, l.stream, l.line]), [[1, 'stdout', 'hello'], [2, 'stderr', 'warn'], [3, 'log', 'third']]);
      assert.deepEqual((await store.logs(r.id, 2)).map((l) => l.line), ['third']);
      await assert.rejects(store.logs('missing'), NotFoundError);
    });

    test('list filters by queue, state, name and text, newest first, with cursor pages', async () => {
      const q = freshQueue();
      for (let i = 0; i < 7; i++) await add(store, q, i % 2 ? 'odd' : 'even', { i, tag: i === 4 ? 'Needle-in-data' : 'hay' });
      const [claimed] = await store.claim({ ...W, queues: [q], limit: 1 });
      const page1 = await store.list({ queue: q, limit: 3 });
      assert.equal(page1.jobs.length, 3);
      assert.deepEqual(page1.jobs.map((j) => (j.data as { i: number }).i), [6, 5, 4]);
      assert.ok(page1.next);
      const page2 = await store.list({ queue: q, limit: 3, cursor: page1.next });
      assert.deepEqual(page2.jobs.map((j) => (j.data as { i: number }).i), [3, 2, 1]);
      const page3 = await store.list({ queue: q, limit: 3, cursor: page2.next });
      assert.deepEqual(page3.jobs.map((j) => (j.data as { i: number }).i), [0]);
      assert.equal(page3.next, null);
      const asc = await store.list({ queue: q, limit: 2, order: 'asc' });
      assert.deepEqual(asc.jobs.map((j) => (j.data as { i: number }).i), [0, 1]);
      assert.deepEqual((await store.list({ queue: q, states: ['active'] })).jobs.map((j) => j.id), [claimed.id]);
      assert.equal((await store.list({ queue: q, name: 'odd' })).jobs.length, 3);
      const found = await store.list({ queue: q, text: 'needle-IN' });
      assert.deepEqual(found.jobs.map((j) => (j.data as { i: number }).i), [4]);
      assert.equal((await store.list({ queue: q, text: found.jobs[0].id.slice(-12) })).jobs.length, 1, 'text matches ids too');
    });

    test('active jobs list in creation order among the others: every page, both orders, with a state filter', async () => {
      const q = freshQueue();
      const ids: string[] = [];
      for (let i = 0; i < 9; i++) ids.push((await add(store, q, 't', { i }, { priority: i % 3 === 1 ? 5 : 0 })).id);
      const claimed = await store.claim({ ...W, queues: [q], limit: 3 });
      assert.deepEqual(claimed.map((j) => j.id).sort(), [ids[1], ids[4], ids[7]].sort());
      const pages = async (filter: Omit<ListFilter, 'cursor'>) => {
        const out: string[] = [];
        let cursor: string | null = null;
        do {
          const page: JobPage = await store.list({ ...filter, cursor });
          out.push(...page.jobs.map((j) => j.id));
          cursor = page.next;
        } while (cursor);
        return out;
      };
      assert.deepEqual(await pages({ queue: q, limit: 2 }), [...ids].reverse());
      assert.deepEqual(await pages({ queue: q, limit: 4, order: 'asc' }), ids);
      assert.deepEqual(await pages({ queue: q, limit: 2, states: ['active', 'queued'] }), [...ids].reverse());
      assert.deepEqual(await pages({ queue: q, limit: 1, states: ['active'], order: 'asc' }), [ids[1], ids[4], ids[7]]);
      assert.deepEqual((await store.counts([q]))[q].active, 3);
    });

    test('list refuses a cursor it did not give out, and changes nothing', async () => {
      const q = freshQueue();
      await add(store, q, 't');
      await assert.rejects(store.list({ queue: q, cursor: 'not-a-cursor' }), ValidationError);
      await assert.rejects(store.list({ queue: q, cursor: Buffer.from('[1]').toString('base64url') }), ValidationError);
      assert.equal((await store.list({ queue: q })).jobs.length, 1);
    });

    test('log lines are cut at their maximum length, and only the newest lines are kept, numbered on', async () => {
      const q = freshQueue();
      const r = await add(store, q, 't');
      await store.update([{ id: r.id, logs: [{ stream: 'log', line: 'x'.repeat(MAX_LOG_LINE_LENGTH + 100) }] }]);
      const [long] = await store.logs(r.id, 0, 1);
      assert.equal(long.line, 'x'.repeat(MAX_LOG_LINE_LENGTH) + '…');
      const more = MAX_LOG_LINES + 4;
      for (let i = 0; i < more; i += 2500) {
        await store.update([{ id: r.id, logs: Array.from({ length: Math.min(2500, more - i) }, (_, k) => ({ stream: 'stdout' as const, line: `l${i + k}` })) }]);
      }
      assert.equal((await store.get(r.id))!.logCount, MAX_LOG_LINES);
      const head = await store.logs(r.id, 0, 2);
      assert.deepEqual(head.map((l) => [l.seq, l.line]), [[6, 'l4'], [7, 'l5']], 'the five oldest lines are gone');
      await store.update([{ id: r.id, logs: [{ stream: 'stderr', line: 'last' }] }]);
      const tail = await store.logs(r.id, MAX_LOG_LINES + 5, 10);
      assert.deepEqual(tail.map((l) => [l.seq, l.line]), [[MAX_LOG_LINES + 6, 'last']], 'numbers go on past the trimmed lines');
    });

    test('counts and queues report every state and the settings', async () => {
      const q = freshQueue();
      await add(store, q, 't');
      await add(store, q, 't', {}, { delay: 60_000 });
      await add(store, q, 't', {}, { start: false });
      await store.configureQueue(q, { concurrency: 4 });
      const c = (await store.counts([q]))[q];
      assert.deepEqual(c, { pending: 1, scheduled: 1, deferred: 0, queued: 1, active: 0, completed: 0, failed: 0, canceled: 0 });
      const info = (await store.queues()).find((x) => x.name === q);
      assert.ok(info);
      assert.equal(info.config.concurrency, 4);
      assert.equal(info.counts.queued, 1);
      assert.deepEqual(await store.queueConfig(freshQueue()), DEFAULT_QUEUE_CONFIG);
    });

    test('clean removes finished jobs by state and age', async () => {
      const q = freshQueue();
      await store.enqueue(Array.from({ length: 3 }, () => buildNewJob(q, 't', {})));
      const jobs = await store.claim({ ...W, queues: [q], limit: 3 });
      await store.finish([
        { id: jobs[0].id, token: jobs[0].token, kind: 'completed', result: null },
        failure(jobs[1], 'x'),
      ]);
      assert.equal(await store.clean({ queue: q, states: ['completed'], olderThanMs: 60_000 }), 0, 'too young');
      assert.equal(await store.clean({ queue: q, states: ['completed'] }), 1);
      assert.equal(await store.get(jobs[0].id), null);
      assert.ok(await store.get(jobs[1].id));
      assert.equal(await store.clean({ queue: q }), 1);
      assert.ok(await store.get(jobs[2].id), 'active jobs are never cleaned');
    });

    test('clean removes more than one chunk in one call', async () => {
      const q = freshQueue();
      await store.enqueue(Array.from({ length: 1200 }, (_, i) => buildNewJob(q, 't', { i })));
      const jobs = await store.claim({ ...W, queues: [q], limit: 1200 });
      assert.equal(jobs.length, 1200);
      await store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
      assert.equal(await store.clean({ queue: q }), 1200);
      assert.equal((await store.counts([q]))[q].completed, 0);
    });

    test('maintain promotes, reclaims and expires more than one batch in one call', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { resultTtlMs: 100 });
      await store.enqueue(Array.from({ length: 1500 }, () => buildNewJob(q, 't', {}, { delay: 100 })));
      clock.advance(100);
      assert.equal((await store.maintain()).promoted, 1500);
      const jobs = await store.claim({ queues: [q], workerId: 'dies', limit: 1500, leaseMs: 100 });
      assert.equal(jobs.length, 1500);
      clock.advance(100);
      assert.equal((await store.maintain()).reclaimed, 1500);
      const again = await store.claim({ ...W, queues: [q], limit: 1500 });
      await store.finish(again.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
      clock.advance(100);
      assert.equal((await store.maintain()).expired, 1500);
      assert.equal((await store.counts([q]))[q].completed, 0);
    });

    test('a completed job: result, progress 100, no lease, expiry from its own TTL or else the queue\'s', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { resultTtlMs: 60_000 });
      const own = await add(store, q, 't', {}, { resultTtl: 5_000 });
      const queueTtl = await add(store, q, 't');
      const plain = await add(store, freshQueue(), 't');
      const jobs = [...(await store.claim({ ...W, queues: [q], limit: 2 })), ...(await store.claim({ ...W, queues: [(await store.get(plain.id))!.queue], limit: 1 }))];
      const by = (id: string) => jobs.find((j) => j.id === id)!;
      await store.update([{ id: own.id, token: by(own.id).token, progress: 40, message: 'almost' }]);
      clock.advance(7);
      const before = clock.now();
      assert.deepEqual(
        await store.finish([
          { id: own.id, token: by(own.id).token, kind: 'completed', result: { rows: [1, 'two'], ok: true } },
          { id: queueTtl.id, token: by(queueTtl.id).token, kind: 'completed', result: 'text' },
          { id: plain.id, token: by(plain.id).token, kind: 'completed', result: null },
        ]),
        [true, true, true],
      );
      const a = (await store.get(own.id))!;
      assert.deepEqual([a.state, a.progress, a.message, a.leaseUntil, a.workerId], ['completed', 100, 'almost', null, W.workerId]);
      assert.deepEqual(a.result, { rows: [1, 'two'], ok: true });
      assert.equal(a.finishedAt, before);
      assert.equal(a.expiresAt, a.finishedAt! + 5_000, 'the job\'s own TTL');
      const b = (await store.get(queueTtl.id))!;
      assert.equal(b.result, 'text');
      assert.equal(b.expiresAt, b.finishedAt! + 60_000, 'the queue\'s TTL');
      const c = (await store.get(plain.id))!;
      // (Its expiry is the backend's default retention: none on SQLite, 7 days on Redis.)
      assert.deepEqual([c.state, c.result, c.progress], ['completed', null, 100]);
      assert.equal((await store.list({ queue: q, states: ['completed'], limit: 10 })).jobs.length, 2);
    });

    test('retention: finished jobs past their TTL are removed by maintain', async () => {
      const q = freshQueue();
      await store.configureQueue(q, { failureTtlMs: 60_000 });
      const a = await add(store, q, 't', {}, { resultTtl: 100 });
      const b = await add(store, q, 't');
      const c = await add(store, q, 't');
      const jobs = await store.claim({ ...W, queues: [q], limit: 3 });
      const by = (id: string) => jobs.find((j) => j.id === id)!;
      await store.finish([
        { id: a.id, token: by(a.id).token, kind: 'completed', result: 1 },
        { id: b.id, token: by(b.id).token, kind: 'completed', result: 1 },
        failure(by(c.id), 'x'),
      ]);
      const fc = await store.get(c.id);
      assert.equal(fc!.expiresAt, clock.now() + 60_000, 'the queue default failure TTL applies');
      clock.advance(99);
      assert.equal((await store.maintain()).expired, 0, 'not expired yet');
      assert.ok(await store.get(a.id));
      clock.advance(1);
      const rep = await store.maintain();
      assert.ok(rep.expired >= 1);
      assert.equal(await store.get(a.id), null);
      assert.ok(await store.get(b.id), 'no TTL: kept');
      assert.ok(await store.get(c.id));
    });

    test('events: added, active, progress, completed reach subscribers', async () => {
      const q = freshQueue();
      const seen: string[] = [];
      const off = store.subscribe((e) => {
        if (e.queue === q) seen.push(e.type);
      });
      const r = await add(store, q, 't');
      const [job] = await store.claim({ ...W, queues: [q], limit: 1 });
      await store.update([{ id: r.id, token: job.token, progress: 50 }]);
      await store.finish([{ id: r.id, token: job.token, kind: 'completed', result: null }]);
      await waitFor(() => seen.includes('completed'));
      off();
      assert.deepEqual(seen, ['added', 'active', 'progress', 'completed']);
    });

    test('pausing and resuming a queue are events (once per change)', async () => {
      const q = freshQueue();
      const seen: string[] = [];
      const off = store.subscribe((e) => {
        if (e.queue === q) seen.push(e.type);
      });
      await store.configureQueue(q, { paused: true });
      await store.configureQueue(q, { paused: true });
      await store.configureQueue(q, { paused: false });
      await add(store, q, 't');
      await waitFor(() => seen.includes('added'));
      off();
      assert.deepEqual(seen, ['paused', 'resumed', 'added']);
    });

    test('a parked worker gets the work that arrives while it waits; leaving, it hands back what it did not take', async () => {
      const q = freshQueue('park');
      const workerId = `${q}-w`;
      const req = { queues: [q], workerId, limit: 5, leaseMs: 30_000, parkMs: 60_000 };
      assert.deepEqual(await store.claim(req), []);
      // The test clock never reaches the timeout: only the arrival can end this wait.
      const waiting = store.wait([q], 60_000);
      const r = await add(store, q, 'a', { n: 1 });
      await waiting;
      const [job, ...more] = await store.claim(req);
      assert.equal(more.length, 0);
      assert.equal(job.id, r.id);
      assert.equal(job.attempt, 1);
      assert.equal(job.workerId, workerId);
      assert.deepEqual(job.data, { n: 1 });
      assert.deepEqual(await store.finish([{ id: job.id, token: job.token, kind: 'completed', result: 'ok' }]), [true]);
      assert.equal((await store.get(r.id))?.state, 'completed');

      assert.deepEqual(await store.claim(req), []);
      const r2 = await add(store, q, 'a', { n: 2 });
      await store.removeWorker(workerId);
      // As if it was never handed over: waiting, no attempt spent, no error kept.
      const back = await store.get(r2.id);
      assert.equal(back?.state, 'queued');
      assert.equal(back?.attempt, 0);
      assert.deepEqual(back?.errors, []);
      const taken = await store.claim({ queues: [q], workerId: `${q}-other`, limit: 5, leaseMs: 30_000 });
      assert.deepEqual(
        taken.map((j) => [j.id, j.attempt]),
        [[r2.id, 1]],
      );
      assert.deepEqual(await store.finish([{ id: taken[0].id, token: taken[0].token, kind: 'completed', result: null }]), [true]);
    });

    test('workers report heartbeats and vanish after their TTL', async () => {
      const id = freshQueue('worker');
      const info = { id, name: 'w', host: 'h', pid: 1, queues: ['a'], concurrency: 2, active: ['j1'], startedAt: Date.now(), lastSeen: Date.now(), processed: 3, failed: 1 };
      await store.reportWorker(info, 200);
      const found = (await store.workers()).find((w) => w.id === id);
      assert.deepEqual(found, info);
      clock.advance(199);
      assert.ok((await store.workers()).find((w) => w.id === id), 'still within its TTL');
      clock.advance(1);
      assert.equal((await store.workers()).find((w) => w.id === id), undefined);
      await store.reportWorker(info, 10_000);
      await store.removeWorker(id);
      assert.equal((await store.workers()).find((w) => w.id === id), undefined);
    });
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not met in time');
    await sleep(5);
  }
}
