/**
 * PostgreSQL restarts: the test's own cluster (initdb on a spare port) is crashed
 * (immediate shutdown: every connection cut, crash recovery at the next start) and started
 * again on the same port and data.
 *
 * Mid-run, while producers add and workers run: everyone reconnects by themselves and goes
 * on; every acknowledged add completes. Then again while the workers sit idle in wait():
 * work added after the restart wakes them. Their idle safety net is a minute, so only a
 * LISTEN connection that came back can explain the wake-up.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { buildNewJob } from '../../src/core/options.ts';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.ts';
import { waitFor } from '../contract/contract.ts';
import { assertAllCompleted, lines, runsSince, untilCompleted } from '../helpers/completed.ts';
import { Child } from '../redis/child.ts';
import { OwnPostgres } from './own-postgres.ts';

const fixtures = new URL('../redis/fixtures/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'conveyor-pg-restart-'));
const procs: Child[] = [];
let server: OwnPostgres;

before(async () => {
  server = await OwnPostgres.start();
});

after(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Stores listening on the server right now (one LISTEN connection each, whose last statement was a LISTEN). */
async function listening(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {});
  try {
    await c.connect();
    const r = await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'conveyor' AND query LIKE 'LISTEN %'");
    return r.rows[0].n as number;
  } catch {
    return 0;
  } finally {
    await c.end().catch(() => undefined);
  }
}

test('PostgreSQL crashed mid-run and while workers idle: everyone goes on, no acknowledged job is lost', async (t) => {
  const url = server.url;
  const schema = 'restart_run';
  const queue = 'rs';
  const perProducer = 2000;
  // The schema exists before the processes start (they would also create it, in turn).
  await (await PostgresStore.connect(url, { schema })).close();
  const runFiles = [0, 1].map((i) => join(dir, `runs-${i}.txt`));
  const ackFiles = [0, 1].map((i) => join(dir, `ack-${i}.txt`));
  const workers = runFiles.map((f) => new Child(join(fixtures, 'worker.ts'), [url, schema, queue, '8', '1500', '8', f, '60000']));
  procs.push(...workers);
  await Promise.all(workers.map((w) => w.waitFor(/^ready /)));
  const producers = ackFiles.map((f, p) =>
    new Child(join(fixtures, 'producer.ts'), [url, schema, queue, String(p * perProducer), String((p + 1) * perProducer), '50', '25', f]),
  );
  procs.push(...producers);

  // Crash while both producers are mid-way and the workers are busy.
  await Promise.all(producers.map((p) => p.waitFor(/^acked ([5-9][0-9]{2}|1[0-9]{3})$/, 30_000)));
  await server.crashAndRestart(300);
  const firstRestart = Date.now();

  await Promise.all(producers.map((p) => p.waitFor(new RegExp(`^added ${perProducer}$`), 60_000)));
  const acked = ackFiles.flatMap(lines);
  assert.equal(new Set(acked).size, 2 * perProducer, 'every add was acknowledged once');

  const store = await PostgresStore.connect(url, { schema });
  try {
    await assertAllCompleted(store, queue, acked, 60_000);
    assert.equal((await store.counts([queue]))[queue].failed, 0);
    runFiles.forEach((f, i) => {
      const n = runsSince(f, firstRestart);
      assert.ok(n > 0, `worker ${i} took no job after the first restart`);
      t.diagnostic(`worker ${i}: ${lines(f).length} runs, ${n} after the crash mid-run`);
    });

    // Now the workers are idle in wait(): crash again; once both workers listen again, add
    // work (this test's store only adds, so it does not listen for wake-ups).
    await waitFor(async () => (await listening(url)) === 2, 10_000);
    await server.crashAndRestart(300);
    const secondRestart = Date.now();
    await waitFor(async () => (await listening(url)) === 2, 20_000);
    const more = Array.from({ length: 400 }, (_, i) => buildNewJob(queue, 'work', { i }));
    await store.enqueue(more);
    await untilCompleted(store, queue, acked.length + more.length, 20_000);
    runFiles.forEach((f, i) => {
      const n = runsSince(f, secondRestart);
      assert.ok(n > 0, `idle worker ${i} was not woken by work added after the restart`);
      t.diagnostic(`worker ${i}: ${n} runs after the crash while idle`);
    });
  } finally {
    await store.close();
  }
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
});
