/**
 * Every CLI command, run as a subprocess against each local target (Redis, SQLite):
 * the same commands, the same output shapes, exit codes 0/1/2.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { EnqueueResult, Job } from '../../src/index.ts';
import { cli, cliJson } from '../helpers/cli.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../redis/redis-env.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-'));
const handlers = new URL('../fixtures/cli/jobs.ts', import.meta.url).pathname;
const prefix = uniquePrefix('cli');
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await dropPrefix(prefix);
});

const LOCAL_TARGETS: { name: string; args: string[] }[] = [
  { name: 'sqlite', args: ['--db', join(dir, 'cli.db')] },
  { name: 'redis', args: ['--redis', REDIS_URL, '--prefix', prefix] },
];

for (const target of LOCAL_TARGETS) {
  describe(`conveyor CLI on ${target.name}`, () => {
    const t = target.args;

    test('enqueue items, list, status, stats, drain', async () => {
      const q = `items-${target.name}`;
      const r = await cli([...t, 'enqueue', 'img1.jpg', 'img2.jpg', '-q', q]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /enqueued img1\.jpg → job \S+ \(queued\)/);
      const page = await cliJson<{ jobs: Job[] }>([...t, 'list', '-q', q]);
      assert.deepEqual(page.jobs.map((j) => (j.data as { item: string }).item).sort(), ['img1.jpg', 'img2.jpg']);
      const job = await cliJson<Job>([...t, 'status', page.jobs[0].id]);
      assert.equal(job.state, 'queued');
      const stats = await cliJson<{ queues: Record<string, { queued: number }> }>([...t, 'stats']);
      assert.equal(stats.queues[q].queued, 2);
      const drained = await cli([...t, 'drain', q]);
      assert.equal(drained.code, 0, drained.stderr);
      assert.deepEqual(drained.stdout.trim().split('\n').sort(), ['img1.jpg', 'img2.jpg']);
      assert.equal((await cliJson<{ jobs: Job[] }>([...t, 'list', '-q', q, '--state', 'completed'])).jobs.length, 2);
    });

    test('add --group: the job belongs to that group (its fair share and group concurrency); groups lists them', async () => {
      const q = `groups-${target.name}`;
      const [r] = await cliJson<EnqueueResult[]>([...t, 'add', 'a.jpg', 'b.jpg', '-q', q, '--group', 'tenant-7']);
      assert.equal((await cliJson<Job>([...t, 'status', r.id])).groupKey, 'tenant-7');
      await cli([...t, 'add', 'c.jpg', '-q', q, '--group', 'tenant-8']);
      assert.deepEqual(await cliJson([...t, 'groups', q]), { groups: [{ group: 'tenant-7', queued: 2, active: 0 }, { group: 'tenant-8', queued: 1, active: 0 }], sampled: false });
      const text = await cli([...t, 'groups', q, '--limit', '1']);
      assert.match(text.stdout, /GROUP\s+READY\s+RUNNING\n\s*tenant-7\s+2\s+0\s*$/);
      const bad = await cli([...t, 'groups', q, '--limit', '0']);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /limit must be an integer from 1 to 1000|--limit must be an integer >= 1/);
    });

    test('add --dedupe-key: a second add with the key answers with the first job, marked duplicate', async () => {
      const q = `dedupe-${target.name}`;
      const [first] = await cliJson<EnqueueResult[]>([...t, 'add', '-q', q, '-d', '{"n":1}', '--dedupe-key', 'nightly-report']);
      const [again] = await cliJson<EnqueueResult[]>([...t, 'add', '-q', q, '-d', '{"n":2}', '--dedupe-key', 'nightly-report', '--dedupe-mode', 'waiting']);
      assert.deepEqual([again.id, again.duplicate, first.duplicate], [first.id, true, false]);
      const text = await cli([...t, 'add', '-q', q, '-d', '{}', '--dedupe-key', 'nightly-report']);
      assert.match(text.stdout, new RegExp(`exists\\s+→ job ${first.id}`), 'the plain output names the existing job');
      const [d1] = await cliJson<EnqueueResult[]>([...t, 'add', '-q', q, '-d', '{"v":1}', '--debounce-key', 'doc-5', '--debounce-delay', '1h']);
      const [d2] = await cliJson<EnqueueResult[]>([...t, 'add', '-q', q, '-d', '{"v":2}', '--debounce-key', 'doc-5', '--debounce-delay', '1h']);
      assert.deepEqual([d2.id, d2.debounced, d1.state], [d1.id, true, 'scheduled']);
      assert.deepEqual((await cliJson<Job>([...t, 'status', d1.id])).data, { v: 2 });
    });

    test('worker --burst runs handler modules; watch, logs, retry, clean', async () => {
      const q = `work-${target.name}`;
      const [ok] = await cliJson<EnqueueResult[]>([...t, 'add', 'cat.jpg', '-q', q, '-n', 'resize']);
      const [bad] = await cliJson<EnqueueResult[]>([...t, 'add', '-q', q, '-n', 'explode', '-d', '{"x":1}']);
      const w = await cli([...t, 'worker', '--handlers', handlers, '-q', q, '--burst', '--name', 'cli-test']);
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stderr, /completed resize/);
      assert.match(w.stderr, /failed explode .*kaboom/);
      const watchOk = await cli([...t, 'watch', ok.id]);
      assert.equal(watchOk.code, 0);
      assert.match(watchOk.stdout, /100% completed/);
      assert.match(watchOk.stdout, /"resized":"cat.jpg"/);
      const watchBad = await cli([...t, 'watch', bad.id]);
      assert.equal(watchBad.code, 1, 'watch exits 1 for a failed job');
      assert.match(watchBad.stdout, /failed: kaboom/);
      const logs = await cliJson<{ line: string }[]>([...t, 'logs', ok.id]);
      assert.deepEqual(logs.map((l) => l.line), ['resizing cat.jpg']);
      const retried = await cli([...t, 'retry', bad.id]);
      assert.equal(retried.code, 0, retried.stderr);
      assert.equal((await cliJson<Job>([...t, 'status', bad.id])).state, 'queued');
      assert.equal((await cli([...t, 'cancel', bad.id, '--reason', 'enough'])).code, 0);
      const cleaned = await cliJson<{ removed: number }>([...t, 'clean', q, '--state', 'completed,canceled']);
      assert.equal(cleaned.removed, 2);
    });

    test('pause, resume, promote (start later), remove, retry --all, info', async () => {
      const q = `admin-${target.name}`;
      const [later] = await cliJson<EnqueueResult[]>([...t, 'add', '-q', q, '-d', '{}', '--paused']);
      assert.equal(later.state, 'pending');
      assert.equal((await cli([...t, 'start', later.id])).code, 0);
      assert.equal((await cliJson<Job>([...t, 'status', later.id])).state, 'queued');
      assert.equal((await cliJson<{ paused: boolean }>([...t, 'pause', q])).paused, true);
      const info = await cli([...t, 'info']);
      assert.match(info.stdout, new RegExp(`${q} \\(paused\\)`));
      assert.equal((await cliJson<{ paused: boolean }>([...t, 'resume', q])).paused, false);
      assert.equal((await cli([...t, 'delete', later.id])).code, 0);
      const gone = await cli([...t, 'status', later.id]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /not found/);
      assert.deepEqual(await cliJson([...t, 'retry', '--all', '-q', q]), { retried: 0 });
    });

    test('configure shows and changes settings: a dead-letter queue, limits, retention; "none" clears; bad values exit 1', async () => {
      const q = `cfg-${target.name}`;
      const set = await cliJson<Record<string, unknown>>([
        ...t, 'configure', q, '--dead-letter', `${q}-dead`, '--rate-limit', '10/1s', '--group-rate-limit', '3/2s', '--group-weights', 'gold=3,silver=2', '--failure-ttl', '30d', '--concurrency', '4',
      ]);
      assert.deepEqual(
        [set.deadLetter, set.rateLimit, set.groupRateLimit, set.groupWeights, set.failureTtlMs, set.concurrency],
        [`${q}-dead`, { max: 10, durationMs: 1000 }, { max: 3, durationMs: 2000 }, { gold: 3, silver: 2 }, 30 * 86_400_000, 4],
      );
      const shown = await cli([...t, 'configure', q]);
      assert.match(shown.stdout, new RegExp(`deadLetter\\s+${q}-dead`));
      // The dead-letter queue exists before any job reaches it.
      assert.ok((await cliJson<{ queues: { name: string }[] }>([...t, 'info'])).queues.some((x) => x.name === `${q}-dead`));
      const cleared = await cliJson<Record<string, unknown>>([...t, 'configure', q, '--dead-letter', 'none', '--rate-limit', 'none']);
      assert.deepEqual([cleared.deadLetter, cleared.rateLimit, cleared.concurrency], [null, null, 4]);
      for (const [args, re] of [
        [['--dead-letter', q], /deadLetter must name another queue/],
        [['--dead-letter', 'bad queue!'], /deadLetter must be 1-128 characters/],
        [['--rate-limit', '10 per s'], /--rate-limit must be max\/window/],
        [['--group-rate-limit', '0/1s'], /--group-rate-limit must be an integer >= 1/],
        [['--group-weights', 'gold:3'], /--group-weights must be group=weight pairs/],
        [['--concurrency', '0'], /--concurrency must be an integer >= 1/],
        [['--overflow', 'drop'], /overflow must be "reject" or "evict-oldest"/],
      ] as [string[], RegExp][]) {
        const r = await cli([...t, 'configure', q, ...args]);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, re);
      }
      assert.deepEqual(await cliJson([...t, 'configure', q]), cleared, 'refused changes changed nothing');
    });

    test('batch add makes one job per item plus the callback; batch show tells the progress; bad input exits 1', async () => {
      const q = `batch-${target.name}`;
      const added = await cliJson<{ id: string; jobs: { id: string }[] }>([...t, 'batch', 'add', 'a.jpg', 'b.jpg', '-q', q, '-n', 'resize', '--on-complete', 'album', '--on-complete-data', '{"album":7}']);
      assert.equal(added.jobs.length, 2);
      const shown = await cliJson<{ total: number; pending: string[]; done: boolean; callbackState: string }>([...t, 'batch', 'show', added.id]);
      assert.deepEqual([shown.total, shown.pending.sort(), shown.done, shown.callbackState], [2, added.jobs.map((j) => j.id).sort(), false, 'deferred']);
      const text = await cli([...t, 'batch', 'show', added.id]);
      assert.match(text.stdout, /2 job\(s\), 2 not finished; callback deferred/);
      for (const [args, re] of [
        [['batch', 'add', 'x', '-q', q], /required option '--on-complete <name>'/],
        [['batch', 'add', '-q', q, '--on-complete', 'cb'], /give the items of the batch, or --jobs FILE/],
        [['batch', 'add', 'x', '-q', q, '--on-complete', 'cb', '--on-complete-data', '5'], /onComplete.data must be an object/],
        [['batch', 'show', 'no-such-batch'], /batch no-such-batch not found/],
      ] as [string[], RegExp][]) {
        const r = await cli([...t, ...args]);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, re);
      }
    });

    test('bad usage exits 1 with a clear message and changes nothing', async () => {
      const q = `bad-${target.name}`;
      const cases: [string[], RegExp][] = [
        [['add', '-q', q, '-d', '{nope'], /--data is not valid JSON/],
        [['add', '-q', q, '--delay', 'soon'], /--delay must be a duration/],
        [['add', '-q', 'bad queue!', '-d', '{}'], /queue must be/],
        [['add', '-q', q, '-d', '{}', '--priority', '5000'], /priority must be an integer from -1000 to 1000/],
        [['add', '-q', q, '-d', '{}', '--group', 'two words'], /group must be a string of 1-256 characters without spaces/],
        [['add', '-q', q, '-d', '{}', '--dedupe-key', 'k', '--dedupe-mode', 'forever'], /dedupe\.mode must be "unfinished", "waiting" or "window"/],
        [['add', '-q', q, '-d', '{}', '--dedupe-ttl', '5m'], /--dedupe-mode and --dedupe-ttl need --dedupe-key/],
        [['add', '-q', q, '-d', '{}', '--debounce-key', 'k'], /--debounce-key and --debounce-delay go together/],
        [['add', '-q', q, '-d', '{}', '--debounce-key', 'k', '--debounce-delay', '1s', '--delay', '5s'], /debounce cannot be combined with delay/],
        [['list', '--state', 'sleeping'], /unknown state "sleeping"/],
        [['clean', q, '--older-than', 'x'], /--older-than must be a duration/],
        [['status'], /missing required argument 'id'/],
        [['frobnicate'], /unknown command 'frobnicate'/],
        [['list', '--nope'], /unknown option '--nope'/],
        [['cancel', 'no-such-job'], /not found/],
        [['worker', '--handlers', join(dir, 'missing.ts')], /handler module not found/],
      ];
      for (const [args, re] of cases) {
        const r = await cli([...t, ...args]);
        assert.equal(r.code, 1, `${args.join(' ')} → ${r.code} ${r.stderr}`);
        assert.match(r.stderr, re, args.join(' '));
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
      }
      const stats = await cliJson<{ queues: Record<string, unknown> }>([...t, 'stats']);
      assert.equal(stats.queues[q], undefined, 'nothing was added');
    });

    test('submit files makes one job naming each file where it lies, with the options', async () => {
      const a = join(dir, `photo-${target.name}.jpg`);
      const b = join(dir, `scan-${target.name}.png`);
      writeFileSync(a, 'jpeg bytes');
      writeFileSync(b, 'png!');
      const r = await cliJson<EnqueueResult>([...t, 'submit', a, b, '-q', `files-${target.name}`, '-n', 'remove-bg', '-o', 'model=u2net']);
      const job = await cliJson<Job>([...t, 'status', r.id]);
      assert.equal(job.name, 'remove-bg');
      assert.deepEqual(job.data, { files: [{ name: `photo-${target.name}.jpg`, path: a, size: 10, field: 'images' }, { name: `scan-${target.name}.png`, path: b, size: 4, field: 'images' }], options: { model: 'u2net' } });
      const missing = await cli([...t, 'submit', join(dir, 'nope.jpg')]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /file not found/);
      assert.match((await cli([...t, 'submit', a, '-o', 'novalue'])).stderr, /key=value/);
    });
  });
}

describe('conveyor CLI: cannot connect', () => {
  test('exit 2 with a message that says how to start the server', async () => {
    const r = await cli(['list', '--server', 'http://127.0.0.1:9']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot reach the Conveyor server at http:\/\/127\.0\.0\.1:9 .*conveyor serve/);
    const s = await cli(['enqueue', 'a', '--host', '127.0.0.1', '--port', '9', '--authkey', 'abc']);
    assert.equal(s.code, 2, 'multiprocessing-manager style flags map onto --server');
    const redis = await cli(['stats', '--redis', 'redis://127.0.0.1:9']);
    assert.equal(redis.code, 2);
    assert.match(redis.stderr, /cannot connect to Redis/);
  });

  test('--help lists every command and each command has examples', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['serve', 'worker', 'add|enqueue', 'submit', 'status', 'watch|monitor', 'list', 'stats', 'info', 'logs', 'cancel|stop', 'retry', 'remove|delete', 'promote|start', 'pause', 'resume', 'clean', 'drain']) {
      assert.match(r.stdout, new RegExp(`\\n  ${c.replace('|', '\\|')}\\b`), c);
    }
    const add = await cli(['add', '--help']);
    assert.match(add.stdout, /Examples:/);
  });
});
