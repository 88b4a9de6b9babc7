/**
 * What the PostgreSQL store does beyond the contract suite: jobs added in the caller's own
 * transaction, migrations under concurrency, and what several stores (processes) on one
 * schema hear from each other.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { TestClock } from '../../src/core/clock.ts';
import { ConnectionError, ValidationError } from '../../src/core/errors.ts';
import { buildNewJob } from '../../src/core/options.ts';
import { Queue } from '../../src/queue.ts';
import { migrate, schemaVersion } from '../../src/stores/postgres/migrate.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { SCHEMA_VERSION } from '../../src/stores/postgres/schema.ts';
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import type { JobEvent } from '../../src/stores/store.ts';
import { OwnPgBouncer } from './own-pgbouncer.ts';
import { dropSchema, PG_URL, uniqueSchema } from './pg-env.ts';

const schemas: string[] = [];
function fresh(label: string): string {
  const s = uniqueSchema(label);
  schemas.push(s);
  return s;
}
after(async () => {
  for (const s of schemas) await dropSchema(s);
});

async function client(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  return c;
}

describe('PostgreSQL: jobs added in the application transaction', () => {
  test('a job added in a transaction exists only once it commits, and workers hear of it then', async () => {
    const clock = new TestClock(Date.now());
    const schema = fresh('tx');
    const store = await PostgresStore.connect(PG_URL, { schema, clock });
    const other = await PostgresStore.connect(PG_URL, { schema, clock });
    const app = await client();
    try {
      const queue = new Queue(store, 'emails');
      // An idle worker of another process: only a notification (not the test clock) wakes it.
      let woken = false;
      const waiting = other.wait(['emails'], 3_600_000).then(() => (woken = true));
      await app.query('CREATE TEMP TABLE orders (id int)');
      await app.query('BEGIN');
      await app.query('INSERT INTO orders VALUES (1)');
      const r = await queue.add('confirm', { order: 1 }, { tx: app, jobId: 'order-1' });
      assert.equal(r.state, 'queued');
      // Not visible outside the transaction, and no worker woken, before the commit.
      assert.equal(await store.get('order-1'), null);
      assert.deepEqual(await other.claim({ queues: ['emails'], workerId: 'w', limit: 10, leaseMs: 1000 }), []);
      await store.counts(['emails']);
      assert.equal(woken, false);
      await app.query('COMMIT');
      await waiting;
      assert.equal(woken, true);
      assert.equal((await store.get('order-1'))?.state, 'queued');
      const [claimed] = await other.claim({ queues: ['emails'], workerId: 'w', limit: 10, leaseMs: 1000 });
      assert.equal(claimed.id, 'order-1');
      assert.deepEqual(claimed.data, { order: 1 });
    } finally {
      await app.end();
      await store.close();
      await other.close();
    }
  });

  test('a rolled-back transaction leaves no job; addBulk joins the transaction too', async () => {
    const schema = fresh('txrb');
    const store = await PostgresStore.connect(PG_URL, { schema });
    const app = await client();
    try {
      const queue = new Queue(store, 'q');
      await app.query('BEGIN');
      await queue.addBulk([{ name: 'a', data: 1, opts: { jobId: 'rb-1' } }, { name: 'b', data: 2, opts: { jobId: 'rb-2' } }], { tx: app });
      await app.query('ROLLBACK');
      assert.equal(await store.get('rb-1'), null);
      assert.equal(await store.get('rb-2'), null);
      await app.query('BEGIN');
      await queue.addBulk([{ name: 'a', data: 1, opts: { jobId: 'c-1' } }, { name: 'b', data: 2, opts: { jobId: 'c-2' } }], { tx: app });
      await app.query('COMMIT');
      assert.equal((await store.counts(['q'])).q.queued, 2);
    } finally {
      await app.end();
      await store.close();
    }
  });

  test('tx that is not a client is refused; stores that cannot join a transaction refuse tx', async () => {
    const schema = fresh('txbad');
    const store = await PostgresStore.connect(PG_URL, { schema });
    try {
      await assert.rejects(new Queue(store, 'q').add('a', {}, { tx: 'BEGIN' }), (e: unknown) => e instanceof ValidationError && e.field === 'tx');
      assert.equal((await store.counts(['q'])).q?.queued ?? 0, 0);
    } finally {
      await store.close();
    }
    const memory = new MemoryStore();
    await assert.rejects(new Queue(memory, 'q').add('a', {}, { tx: {} }), /cannot add jobs inside your transaction/);
    assert.equal((await memory.counts(['q'])).q.queued, 0);
    await memory.close();
  });
});

describe('PostgreSQL: opening and migrations', () => {
  test('processes opening a fresh schema at once all succeed and migrate it once', async () => {
    const schema = fresh('race');
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.connect(PG_URL, { schema })));
    const c = await client();
    try {
      assert.equal(await schemaVersion(c, schema), SCHEMA_VERSION);
      const rows = await c.query(`SELECT count(*)::int AS n FROM "${schema}".migrations`);
      assert.equal(rows.rows[0].n, SCHEMA_VERSION);
      assert.deepEqual(await migrate(c, schema), { schema, from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    } finally {
      await c.end();
      for (const s of stores) await s.close();
    }
  });

  test('migrate: false refuses a schema that is not current; a newer schema is refused', async () => {
    const schema = fresh('nomig');
    await assert.rejects(PostgresStore.connect(PG_URL, { schema, migrate: false }), (e: unknown) => e instanceof ConnectionError && /run `conveyor migrate/.test(e.message));
    const c = await client();
    try {
      await migrate(c, schema);
      await (await PostgresStore.connect(PG_URL, { schema, migrate: false })).close();
      await c.query(`INSERT INTO "${schema}".migrations (version) VALUES (${SCHEMA_VERSION + 1})`);
      await assert.rejects(PostgresStore.connect(PG_URL, { schema }), /written by a newer Conveyor/);
    } finally {
      await c.end();
    }
  });

  test('a schema at version 4 with jobs in it migrates to one (queue, state, created_seq) index and reads the same', async () => {
    const schema = fresh('v4');
    const first = await PostgresStore.connect(PG_URL, { schema });
    const added = await first.enqueue(['a', 'b', 'a', 'b', 'a'].map((q, i) => buildNewJob(q, 't', { i })));
    const [job] = await first.claim({ queues: ['a'], workerId: 'w', limit: 1, leaseMs: 60_000 });
    await first.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
    await first.close();
    const c = await client();
    const indexes = async () =>
      (await c.query('SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1', [schema, 'jobs'])).rows.map((r) => r.indexname as string);
    try {
      // Back to version 4 as it was: its three indexes instead of the one.
      await c.query(`DROP INDEX "${schema}".jobs_queue_state_created`);
      await c.query(`CREATE INDEX jobs_queue_created ON "${schema}".jobs (queue, created_seq)`);
      await c.query(`CREATE INDEX jobs_created ON "${schema}".jobs (created_seq)`);
      await c.query(`CREATE INDEX jobs_queue_state ON "${schema}".jobs (queue, state)`);
      await c.query(`DELETE FROM "${schema}".migrations WHERE version = 5`);
      const store = await PostgresStore.connect(PG_URL, { schema });
      try {
        assert.equal(await schemaVersion(c, schema), 5);
        const now = await indexes();
        assert.ok(now.includes('jobs_queue_state_created'));
        for (const old of ['jobs_queue_created', 'jobs_created', 'jobs_queue_state']) assert.ok(!now.includes(old), `${old} is still there`);
        assert.deepEqual((await store.list({ order: 'asc' })).jobs.map((j) => j.id), added.map((r) => r.id));
        assert.deepEqual((await store.list({ queue: 'a', states: ['queued'] })).jobs.map((j) => j.id), [added[4].id, added[2].id]);
        const counts = await store.counts(['a', 'b']);
        assert.deepEqual([counts.a.queued, counts.a.completed, counts.b.queued], [2, 1, 2]);
      } finally {
        await store.close();
      }
    } finally {
      await c.end();
    }
  });

  test('bad URLs, schema names and unreachable servers get clear errors', async () => {
    await assert.rejects(PostgresStore.connect('mysql://x'), (e: unknown) => e instanceof ValidationError && e.field === 'postgres');
    await assert.rejects(PostgresStore.connect(PG_URL, { schema: 'Robert"; DROP' }), (e: unknown) => e instanceof ValidationError && e.field === 'schema');
    await assert.rejects(PostgresStore.connect(PG_URL, { schema: 'ok', poolSize: 0 }), (e: unknown) => e instanceof ValidationError && e.field === 'poolSize');
    await assert.rejects(PostgresStore.connect('postgres://nobody:secret@127.0.0.1:1/none'), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, /127\.0\.0\.1:1/);
      assert.doesNotMatch(e.message, /secret/);
      return true;
    });
  });
});

describe('PostgreSQL: stores on one schema', () => {
  // The test clock never moves: only a notification or the first wait's look for ready jobs
  // can end these waits; a real 10 s signal ends one that would hang, and fails the test.
  test('a store hears wake-ups from its first wait or worker on; that first wait also sees work added before it listened', async () => {
    const clock = new TestClock(Date.now());
    const schema = fresh('wake');
    const producer = await PostgresStore.connect(PG_URL, { schema, clock });
    const consumer = await PostgresStore.connect(PG_URL, { schema, clock });
    const reporter = await PostgresStore.connect(PG_URL, { schema, clock });
    const hearsWake = (s: PostgresStore) => (s as unknown as { feed: { hearsWake: boolean } }).feed.hearsWake;
    const job = (id: string) => buildNewJob('q', 'x', {}, { jobId: id }, {}, undefined, clock.now());
    const woken = async (store: PostgresStore, during: () => Promise<unknown> = async () => {}) => {
      const guard = AbortSignal.timeout(10_000);
      const waiting = store.wait(['q'], 3_600_000, guard);
      await during();
      await waiting;
      assert.equal(guard.aborted, false, 'the wait was not woken');
    };
    try {
      // A process that only adds is sent no notification of its own adds.
      await producer.enqueue([job('a')]);
      assert.equal(hearsWake(producer), false);
      assert.equal(hearsWake(consumer), false);
      // 'a' was announced before the consumer listened: its first wait finds it.
      await woken(consumer);
      assert.equal(hearsWake(consumer), true);
      assert.equal((await consumer.claim({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: 60_000 })).length, 1);
      // Later waits hear the notification of another store's add.
      await woken(consumer, () => producer.enqueue([job('b')]));
      // A Worker's report starts the listening before its first claim.
      await reporter.reportWorker({ id: 'w1', name: 'w1', host: 'h', pid: 1, queues: ['q'], concurrency: 1, active: [], startedAt: clock.now(), lastSeen: clock.now(), processed: 0, failed: 0 }, 60_000);
      assert.equal(hearsWake(reporter), true);
      await woken(reporter, () => producer.enqueue([job('c')]));
      assert.equal(hearsWake(producer), false);
    } finally {
      await producer.close();
      await consumer.close();
      await reporter.close();
    }
  });

  test('waits that begin together before the store listens each look for ready jobs of their own queues', async () => {
    const clock = new TestClock(Date.now());
    const schema = fresh('wake2');
    const producer = await PostgresStore.connect(PG_URL, { schema, clock });
    const consumer = await PostgresStore.connect(PG_URL, { schema, clock });
    try {
      // Added before the consumer listens: only a look for ready jobs can find it.
      await producer.enqueue([buildNewJob('q2', 'x', {}, {}, {}, undefined, clock.now())]);
      const guard = AbortSignal.timeout(10_000);
      const other = new AbortController();
      // The first wait starts the LISTEN; the second begins before it is in force.
      const first = consumer.wait(['q1'], 3_600_000, other.signal);
      await consumer.wait(['q2'], 3_600_000, guard);
      assert.equal(guard.aborted, false, 'the wait on q2 was not woken');
      other.abort();
      await first;
    } finally {
      await producer.close();
      await consumer.close();
    }
  });

  test('events of one store reach the subscribers of another', async () => {
    const schema = fresh('events');
    const a = await PostgresStore.connect(PG_URL, { schema });
    const b = await PostgresStore.connect(PG_URL, { schema });
    try {
      const seen: JobEvent[] = [];
      const got = new Promise<void>((resolve) =>
        a.subscribe((e) => {
          seen.push(e);
          if (e.type === 'completed') resolve();
        }),
      );
      // The subscription registers itself; a write after the registration is heard.
      const registered = await waitForListener(schema);
      assert.equal(registered, true);
      const [r] = await b.enqueue([buildNewJob('ev', 'x', {}, {}, {}, undefined, b.clock.now())]);
      const [job] = await b.claim({ queues: ['ev'], workerId: 'w', limit: 1, leaseMs: 10_000 });
      await b.finish([{ id: job.id, token: job.token, kind: 'completed', result: 1 }]);
      await got;
      assert.deepEqual(
        seen.filter((e) => e.jobId === r.id).map((e) => e.type),
        ['added', 'active', 'completed'],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a subscriber that names its event types is sent only those by other stores', async () => {
    const schema = fresh('types');
    const a = await PostgresStore.connect(PG_URL, { schema });
    const b = await PostgresStore.connect(PG_URL, { schema });
    const c = await client();
    try {
      const seen: JobEvent[] = [];
      const canceled = new Promise<void>((resolve) =>
        a.subscribe(
          (e) => {
            seen.push(e);
            if (e.type === 'canceled') resolve();
          },
          ['canceled'],
        ),
      );
      assert.equal(await waitForListener(schema), true);
      const registered = await c.query(`SELECT types FROM "${schema}".listeners`);
      assert.deepEqual(registered.rows[0].types, ['canceled']);
      const now = b.clock.now();
      const [keep, drop] = await b.enqueue([buildNewJob('t', 'x', {}, {}, {}, undefined, now), buildNewJob('t', 'x', {}, {}, {}, undefined, now)]);
      const [job] = await b.claim({ queues: ['t'], workerId: 'w', limit: 1, leaseMs: 10_000 });
      assert.equal(job.id, keep.id);
      await b.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
      await b.cancel([drop.id]);
      await canceled;
      // Notifications arrive in commit order: nothing before the cancel was sent.
      assert.deepEqual(seen.map((e) => `${e.type} ${e.jobId}`), [`canceled ${drop.id}`]);
    } finally {
      await c.end();
      await a.close();
      await b.close();
    }
  });

  test('a dependent added while its parent finishes is released: the finish that waited for the add sees the new link', async () => {
    const schema = fresh('link');
    const store = await PostgresStore.connect(PG_URL, { schema });
    const app = await client();
    try {
      const now = store.clock.now();
      const parent = buildNewJob('flow', 'parent', {}, {}, {}, undefined, now);
      await store.enqueue([parent]);
      const [job] = await store.claim({ queues: ['flow'], workerId: 'w', limit: 1, leaseMs: 60_000 });
      // The add holds the parent's row (in the application's open transaction) while the finish comes.
      await app.query('BEGIN');
      const child = await new Queue(store, 'flow').add('child', {}, { tx: app, dependsOn: parent.id });
      assert.equal(child.state, 'deferred');
      const finishing = store.finish([{ id: job.id, token: job.token, kind: 'completed', result: null }]);
      // Commit only once the finish is waiting for the parent's lock.
      for (;;) {
        const r = await app.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%"${schema}"%`]);
        if (r.rows[0].n > 0) break;
      }
      await app.query('COMMIT');
      assert.deepEqual(await finishing, [true]);
      assert.equal((await store.get(parent.id))?.state, 'completed');
      assert.equal((await store.get(child.id))?.state, 'queued', 'the child is released, not left deferred');
    } finally {
      await app.end();
      await store.close();
    }
  });

  test('claimers in two stores never take the same job', async () => {
    const schema = fresh('skip');
    const a = await PostgresStore.connect(PG_URL, { schema });
    const b = await PostgresStore.connect(PG_URL, { schema });
    try {
      const now = a.clock.now();
      await a.enqueue(Array.from({ length: 400 }, (_, i) => buildNewJob('s', 'x', { i }, {}, {}, undefined, now)));
      const taken: string[] = [];
      const drain = async (s: PostgresStore) => {
        for (;;) {
          const got = await s.claim({ queues: ['s'], workerId: 'w', limit: 7, leaseMs: 60_000 });
          if (got.length === 0) return;
          taken.push(...got.map((j) => j.id));
        }
      };
      await Promise.all([drain(a), drain(b), drain(a), drain(b)]);
      assert.equal(taken.length, 400);
      assert.equal(new Set(taken).size, 400);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

/** Resolves once some store registered as an event listener on the schema. */
async function waitForListener(schema: string): Promise<boolean> {
  const c = await client();
  try {
    for (let i = 0; i < 500; i++) {
      const r = await c.query(`SELECT count(*)::int AS n FROM "${schema}".listeners`);
      if (r.rows[0].n > 0) return true;
    }
    return false;
  } finally {
    await c.end();
  }
}

describe('PostgreSQL: connection poolers (a real PgBouncer started by the test)', () => {
  test('refused with the reason: a pooler that rejects or drops the session settings, or pools by transaction; session pooling with the settings on the role works', async () => {
    const admin = await client();
    const role = `cv_pgb_${process.pid}`;
    await admin.query(`CREATE ROLE ${role} LOGIN; ALTER ROLE ${role} SET enable_sort = off; ALTER ROLE ${role} SET jit = off; GRANT CREATE ON DATABASE test TO ${role}`);
    const bouncers: OwnPgBouncer[] = [];
    const bouncer = async (mode: 'session' | 'transaction', extra: Record<string, string> = {}) => {
      const b = await OwnPgBouncer.start(mode, extra, [role]);
      bouncers.push(b);
      return b;
    };
    const dropsOptions = { ignore_startup_parameters: 'options,extra_float_digits' };
    try {
      // PgBouncer's defaults refuse the startup options Conveyor sets.
      // A setting to change, not a server to wait for: ValidationError (--wait-for-store does not retry it).
      await assert.rejects(PostgresStore.connect((await bouncer('session')).url, { schema: fresh('pgb') }), (err: Error) => err instanceof ValidationError && /pooler .*refused Conveyor's session settings \(unsupported startup parameter: options\)/.test(err.message));
      // Told to drop them, it connects without them: refused too.
      await assert.rejects(PostgresStore.connect((await bouncer('session', dropsOptions)).url, { schema: fresh('pgb') }), /did not get Conveyor's session settings/);
      const asRole = (b: OwnPgBouncer) => b.url.replace('postgres@', `${role}@`);
      // Transaction pooling: the LISTEN session hears nothing, so idle workers would sleep through new work.
      await assert.rejects(PostgresStore.connect(asRole(await bouncer('transaction', dropsOptions)), { schema: fresh('pgb') }), /hears no notifications/);
      // Session pooling with the settings on the role: works, and a wait is woken by another process's add.
      const schema = fresh('pgb');
      const pooled = await PostgresStore.connect(asRole(await bouncer('session', dropsOptions)), { schema });
      const direct = await PostgresStore.connect(PG_URL, { schema });
      try {
        const woken = pooled.wait(['q'], 3_600_000);
        await direct.enqueue([buildNewJob('q', 'x', {}, {}, {}, undefined, direct.clock.now())]);
        await woken;
        assert.equal((await pooled.claim({ queues: ['q'], workerId: 'w', limit: 5, leaseMs: 60_000 })).length, 1);
      } finally {
        await pooled.close();
        await direct.close();
      }
    } finally {
      for (const b of bouncers) await b.stop();
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
      await admin.end();
    }
  });
});
