/**
 * Jobs added in the application's own SQLite transaction (`{ tx: db }`, the application's
 * DatabaseSync on the store's file): they exist if and only if it commits, and a waiting
 * worker hears of them when it does.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { TestClock } from '../../src/core/clock.ts';
import { ValidationError } from '../../src/core/errors.ts';
import { Queue } from '../../src/queue.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-tx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function app(file: string): DatabaseSync {
  const db = new DatabaseSync(file);
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY)');
  return db;
}

test('a job added in the application transaction appears on commit, wakes a waiting worker, and never on rollback', async () => {
  const file = join(dir, 'commit.db');
  const clock = new TestClock(Date.now());
  const store = SqliteStore.open(file, { clock });
  const db = app(file);
  try {
    const queue = new Queue(store, 'emails');
    await store.counts(['emails']);
    let woken = false;
    // Only the commit can wake it: the test clock never reaches the timeout.
    const waiting = store.wait(['emails'], 3_600_000).then(() => (woken = true));
    db.exec('BEGIN IMMEDIATE');
    db.exec('INSERT INTO orders VALUES (1)');
    const r = await queue.add('confirm', { order: 1 }, { tx: db, jobId: 'order-1' });
    assert.deepEqual(r, { id: 'order-1', state: 'queued', duplicate: false });
    assert.equal(await store.get('order-1'), null, 'not visible before the commit');
    assert.equal(woken, false);
    db.exec('COMMIT');
    await waiting;
    assert.equal((await store.get('order-1'))?.state, 'queued');

    db.exec('BEGIN IMMEDIATE');
    await queue.addBulk([{ name: 'a', data: 1, opts: { jobId: 'rb-1' } }, { name: 'b', data: 2, opts: { jobId: 'rb-2' } }], { tx: db });
    db.exec('ROLLBACK');
    assert.equal(await store.get('rb-1'), null);
    assert.equal(await store.get('rb-2'), null);
    assert.equal((await store.counts(['emails'])).emails.queued, 1);
  } finally {
    db.close();
    await store.close();
  }
});

test('a refused add inside the application transaction leaves its own writes in place', async () => {
  const file = join(dir, 'refused.db');
  const store = SqliteStore.open(file);
  const db = app(file);
  try {
    const queue = new Queue(store, 'q');
    db.exec('BEGIN IMMEDIATE');
    db.exec('INSERT INTO orders VALUES (7)');
    await assert.rejects(queue.add('x', {}, { tx: db, dependsOn: 'no-such-job' }), /does not exist/);
    db.exec('COMMIT');
    assert.equal((db.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n, 1);
    assert.equal((await store.counts(['q'])).q?.queued ?? 0, 0);
  } finally {
    db.close();
    await store.close();
  }
});

test('tx must be a DatabaseSync on the same file, inside a transaction', async () => {
  const file = join(dir, 'bad.db');
  const store = SqliteStore.open(file);
  const other = app(join(dir, 'other.db'));
  const same = app(file);
  try {
    const queue = new Queue(store, 'q');
    const refused = (tx: unknown, re: RegExp) => assert.rejects(queue.add('x', {}, { tx }), (e: unknown) => e instanceof ValidationError && e.field === 'tx' && re.test(e.message));
    await refused('BEGIN', /DatabaseSync/);
    other.exec('BEGIN');
    await refused(other, /not to this store's file/);
    other.exec('ROLLBACK');
    await refused(same, /call BEGIN/);
    assert.equal((await store.counts(['q'])).q?.queued ?? 0, 0);
  } finally {
    other.close();
    same.close();
    await store.close();
  }
});
