import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConnectionError, QueueFullError, ValidationError } from '../../src/core/errors.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { DatabaseSync } from 'node:sqlite';
import { LATE_READY_QUERY } from '../../src/stores/sqlite/schema.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import type { JobEvent } from '../../src/stores/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a reopened file has every job, its logs, its queue settings and the per-minute history', async () => {
  const file = join(dir, 'reopen.db');
  const a = SqliteStore.open(file);
  const [r] = await a.enqueue([buildNewJob('q', 't', { keep: true }, { priority: 3 })]);
  await a.configureQueue('q', { maxSize: 7 });
  await a.update([{ id: r.id, logs: [{ stream: 'log', line: 'hello' }] }]);
  await a.enqueue([buildNewJob('done', 't', {})]);
  const [d] = await a.claim({ queues: ['done'], workerId: 'w', limit: 1, leaseMs: 60_000 });
  await a.finish([{ id: d.id, token: d.token, kind: 'completed', result: null }]);
  const history = await a.history(0);
  assert.equal(history.length, 1);
  await a.close();
  const b = SqliteStore.open(file);
  const job = await b.get(r.id);
  assert.deepEqual(job!.data, { keep: true });
  assert.equal(job!.priority, 3);
  assert.equal((await b.queueConfig('q')).maxSize, 7);
  assert.deepEqual((await b.logs(r.id)).map((l) => l.line), ['hello']);
  assert.deepEqual(await b.history(0), history);
  await b.close();
});

test('bad paths get a clear error naming the path, and create nothing', () => {
  assert.throws(() => SqliteStore.open(join(dir, 'no/such/dir/x.db')), (e: Error) => e instanceof ConnectionError && /does not exist/.test(e.message));
  mkdirSync(join(dir, 'a-dir'));
  assert.throws(() => SqliteStore.open(join(dir, 'a-dir')), /is a directory/);
  const corrupt = join(dir, 'corrupt.db');
  writeFileSync(corrupt, 'this is not a database, just text that is long enough to have a header'.repeat(20));
  assert.throws(() => SqliteStore.open(corrupt), (e: Error) => e instanceof ConnectionError && e.message.includes(corrupt));
  assert.throws(() => SqliteStore.open(''), ValidationError);
  assert.throws(() => SqliteStore.open(join(dir, 'x.db'), { durability: 'maybe' as never }), ValidationError);
});

test('two stores on one file (as two processes): jobs, wake-ups and events cross over', async () => {
  const file = join(dir, 'shared.db');
  const a = SqliteStore.open(file);
  const b = SqliteStore.open(file, { durability: 'power' });
  const seen: JobEvent[] = [];
  const unsubscribe = b.subscribe((e) => seen.push(e));
  const waiting = b.wait(['shared'], 5000);
  const t0 = Date.now();
  const [r] = await a.enqueue([buildNewJob('shared', 't', { n: 1 })]);
  await waiting;
  assert.ok(Date.now() - t0 < 2000, 'the wait ended on the other store\'s enqueue, not its timeout');
  const [claimed] = await b.claim({ queues: ['shared'], workerId: 'b', limit: 1, leaseMs: 10_000 });
  assert.equal(claimed.id, r.id);
  for (let i = 0; i < 100 && !seen.some((e) => e.type === 'added'); i++) await new Promise((res) => setTimeout(res, 10));
  assert.ok(seen.some((e) => e.type === 'added' && e.jobId === r.id), 'an event written by the other store arrived');
  assert.equal(seen.filter((e) => e.type === 'active').length, 1, 'own events are delivered once');
  unsubscribe();
  await a.close();
  await b.close();
});

test('jobs stored in full documents (earlier files) read, claim and finish like new ones', async () => {
  const file = join(dir, 'full-doc.db');
  const a = SqliteStore.open(file);
  const [r] = await a.enqueue([buildNewJob('q', 't', { n: 1 }, { attempts: 2 })]);
  const before = await a.get(r.id);
  await a.close();
  // Rewrite the document with every field spelled out, as files written before slim documents hold it.
  const { DatabaseSync } = await import('node:sqlite');
  const raw = new DatabaseSync(file);
  const doc = () => (raw.prepare('SELECT doc FROM jobs WHERE id = ?').get(r.id) as { doc: string }).doc;
  // New documents leave out fields at their defaults.
  assert.equal(JSON.parse(doc()).message, undefined);
  const { data: _d, logCount: _l, ...full } = before!;
  raw.prepare('UPDATE jobs SET doc = ? WHERE id = ?').run(JSON.stringify(full), r.id);
  assert.equal(JSON.parse(doc()).message, null);
  raw.close();
  const b = SqliteStore.open(file);
  assert.deepEqual(await b.get(r.id), before);
  const [claimed] = await b.claim({ queues: ['q'], workerId: 'w', limit: 1, leaseMs: 1000 });
  assert.equal(claimed.attempt, 1);
  assert.deepEqual(await b.finish([{ id: r.id, token: claimed.token, kind: 'completed', result: { ok: true } }]), [true]);
  const done = await b.get(r.id);
  assert.equal(done?.state, 'completed');
  assert.deepEqual(done?.result, { ok: true });
  assert.deepEqual(done?.errors, []);
  await b.close();
});

test('a file from before rowid creation numbers: old indexes go, old jobs keep their order, new ones follow', async () => {
  const file = join(dir, 'old-seq.db');
  const a = SqliteStore.open(file);
  const old = await a.enqueue([buildNewJob('q', 't', { n: 1 }), buildNewJob('q', 't', { n: 2 })]);
  await a.close();
  // As such files hold them: creation numbers from the meta counter (not the rowid), and
  // the two creation-order indexes.
  const { DatabaseSync } = await import('node:sqlite');
  const raw = new DatabaseSync(file);
  raw.exec("UPDATE jobs SET created_seq = created_seq + 500, ready_seq = ready_seq + 500; UPDATE meta SET value = 900 WHERE key = 'seq'");
  raw.exec('CREATE INDEX jobs_created ON jobs (created_seq); CREATE INDEX jobs_queue_created ON jobs (queue, created_seq)');
  raw.close();

  const b = SqliteStore.open(file);
  const [fresh] = await b.enqueue([buildNewJob('q', 't', { n: 3 })]);
  const check = new DatabaseSync(file);
  const indexes = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'").all() as { name: string }[]).map((r) => r.name);
  assert.ok(!indexes.includes('jobs_created') && !indexes.includes('jobs_queue_created'), indexes.join(','));
  assert.ok(indexes.includes('jobs_queue'));
  // The new job's number is past the old counter, so it sorts after the old jobs everywhere.
  const row = check.prepare('SELECT rowid AS r, created_seq, ready_seq FROM jobs WHERE id = ?').get(fresh.id) as { r: number; created_seq: number; ready_seq: number };
  check.close();
  assert.deepEqual([row.r, row.created_seq, row.ready_seq], [901, 901, 901]);
  const listed = (await b.list({ queue: 'q', order: 'asc', limit: 10 })).jobs.map((j) => j.id);
  assert.deepEqual(listed, [old[0].id, old[1].id, fresh.id]);
  const claimed = await b.claim({ queues: ['q'], workerId: 'w', limit: 3, leaseMs: 1000 });
  assert.deepEqual(claimed.map((j) => j.id), [old[0].id, old[1].id, fresh.id]);
  // Queued again, a job gets a number past every rowid, and a job added after it gets a
  // number past that one.
  await b.finish([{ id: old[0].id, token: claimed[0].token, kind: 'failed', error: { message: 'x' }, next: { state: 'queued' } }]);
  const [later] = await b.enqueue([buildNewJob('q', 't', { n: 4 })]);
  const again = await b.claim({ queues: ['q'], workerId: 'w', limit: 2, leaseMs: 1000 });
  assert.deepEqual(again.map((j) => j.id), [old[0].id, later.id]);
  await b.close();
});

test('the events table is written only while another store listens, and a lapsed registration stops it', async () => {
  const file = join(dir, 'listeners.db');
  const a = SqliteStore.open(file);
  const b = SqliteStore.open(file);
  const { DatabaseSync } = await import('node:sqlite');
  const raw = new DatabaseSync(file);
  const rows = () => (raw.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  const add = (n: number) => a.enqueue([buildNewJob('ev', 't', { n })]);

  await add(1);
  const own: JobEvent[] = [];
  const stopOwn = a.subscribe((e) => own.push(e));
  await add(2);
  assert.equal(rows(), 0, 'no other store listens: no rows, even with listeners of its own');
  assert.equal(own.filter((e) => e.type === 'added').length, 1, 'its own listeners still hear it');

  const seen: JobEvent[] = [];
  const stop = b.subscribe((e) => seen.push(e));
  const [r3] = await add(3);
  assert.equal(rows(), 1);
  for (let i = 0; i < 100 && !seen.some((e) => e.jobId === r3.id); i++) await new Promise((res) => setTimeout(res, 10));
  assert.ok(seen.some((e) => e.type === 'added' && e.jobId === r3.id), 'the other store heard it');

  stop();
  await add(4);
  assert.equal(rows(), 1, 'unsubscribed: no more rows');

  const stop2 = b.subscribe(() => {});
  raw.exec('UPDATE listeners SET until = 0');
  await add(5);
  assert.equal(rows(), 1, 'a registration past its time no longer counts');
  await a.maintain();
  assert.equal((raw.prepare('SELECT COUNT(*) AS n FROM listeners').get() as { n: number }).n, 0, 'maintain drops lapsed registrations');
  stop2();
  stopOwn();
  raw.close();
  await a.close();
  await b.close();
});

test('settings another store changes apply at once; a returned config cannot change the store', async () => {
  const file = join(dir, 'settings.db');
  const a = SqliteStore.open(file);
  const b = SqliteStore.open(file);
  await a.enqueue([buildNewJob('s', 't', {})]);
  // a has read (and kept) the defaults; b sets a limit.
  assert.equal((await a.queueConfig('s')).maxSize, null);
  await b.configureQueue('s', { maxSize: 1 });
  await assert.rejects(a.enqueue([buildNewJob('s', 't', {})]), QueueFullError);
  assert.equal((await a.queueConfig('s')).maxSize, 1);
  // Mutating what a read returned changes nothing stored or cached.
  const cfg = await a.queueConfig('s');
  cfg.maxSize = 100;
  (await a.queues())[0].config.maxSize = 100;
  (await a.configureQueue('s', { paused: false })).maxSize = 100;
  await assert.rejects(a.enqueue([buildNewJob('s', 't', {})]), QueueFullError);
  assert.equal((await b.queueConfig('s')).maxSize, 1);
  await a.close();
  await b.close();
});

test('a file from before expiry (no start_by column) gains it at open; its jobs and new expiring ones work', async () => {
  const file = join(dir, 'before-expiry.db');
  const a = SqliteStore.open(file);
  const [old] = await a.enqueue([buildNewJob('q', 't', { n: 1 })]);
  await a.close();
  const { DatabaseSync } = await import('node:sqlite');
  const raw = new DatabaseSync(file);
  raw.exec('DROP INDEX jobs_start_by; ALTER TABLE jobs DROP COLUMN start_by');
  raw.close();
  const b = SqliteStore.open(file);
  const check = new DatabaseSync(file);
  const cols = (check.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name);
  check.close();
  assert.ok(cols.includes('start_by'), 'the column is back');
  assert.equal((await b.get(old.id))!.startBy, null);
  const [fresh] = await b.enqueue([buildNewJob('q', 't', { n: 2 }, { expiresIn: 60_000 })]);
  assert.ok((await b.get(fresh.id))!.startBy! > Date.now());
  const claimed = await b.claim({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: 1000 });
  assert.deepEqual(claimed.map((j) => j.id), [old.id, fresh.id]);
  await b.close();
});

test("a claim's check for expired ready jobs reads the latest-start index, never the queue's whole ready set", async () => {
  const file = join(dir, 'plan.db');
  const store = SqliteStore.open(file);
  await store.close();
  const db = new DatabaseSync(file);
  try {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${LATE_READY_QUERY}`).all(0, 'q') as { detail: string }[]).map((r) => r.detail).join(' | ');
    assert.match(plan, /USING INDEX jobs_start_by/, plan);
    assert.doesNotMatch(plan, /jobs_ready/, plan);
  } finally {
    db.close();
  }
});
