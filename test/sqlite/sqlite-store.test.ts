import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ConnectionError, ValidationError } from '../../src/core/errors.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import type { JobEvent } from '../../src/stores/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a reopened file has every job, its logs and its queue settings', async () => {
  const file = join(dir, 'reopen.db');
  const a = SqliteStore.open(file);
  const [r] = await a.enqueue([buildNewJob('q', 't', { keep: true }, { priority: 3 })]);
  await a.configureQueue('q', { maxSize: 7 });
  await a.update([{ id: r.id, logs: [{ stream: 'log', line: 'hello' }] }]);
  await a.close();
  const b = SqliteStore.open(file);
  const job = await b.get(r.id);
  assert.deepEqual(job!.data, { keep: true });
  assert.equal(job!.priority, 3);
  assert.equal((await b.queueConfig('q')).maxSize, 7);
  assert.deepEqual((await b.logs(r.id)).map((l) => l.line), ['hello']);
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
