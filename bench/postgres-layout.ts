/**
 * An experiment, not a test: what a claim and a finish cost per job on today's `jobs` layout
 * (each a non-HOT update: the state is in five indexes) against a narrow ready table with
 * every `jobs` index on columns a claim or finish never changes (so both updates can be
 * HOT). Plain SQL on tables shaped like the store's, in a schema of its own that it drops.
 * Run: ./node_modules/.bin/node bench/postgres-layout.ts [url] [jobs]
 * Result and conclusion: docs/stores-postgres.md, Performance.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
const N = Number(process.argv[3] ?? 100_000);
const BATCH = 50;
const S = `layout_${process.pid}`;

const COLUMNS = `id text PRIMARY KEY, queue text NOT NULL, state text NOT NULL, priority int NOT NULL, created_seq bigint NOT NULL,
  ready_seq bigint NOT NULL, lease_until bigint, token text, expires_at bigint, finished_at bigint, data text NOT NULL, doc jsonb NOT NULL`;
const ROWS = `SELECT 'j' || i, 'bench', 'queued', 0, i, i, NULL::bigint, NULL, NULL::bigint, NULL::bigint,
  '{"i":' || i || ',"s":"' || repeat('x', 100) || '"}', '{"name":"job","attempts":1,"opts":{}}'::jsonb FROM generate_series(1, ${N}) i`;

const client = new pg.Client(url);
await client.connect();
await client.query('SET enable_sort = off; SET jit = off');
await client.query(`CREATE SCHEMA ${S}`);
try {
  await client.query(`
    CREATE TABLE ${S}.a (${COLUMNS}) WITH (fillfactor = 70);
    CREATE INDEX ON ${S}.a (queue, priority DESC, ready_seq) WHERE state = 'queued';
    CREATE INDEX ON ${S}.a (queue, created_seq); CREATE INDEX ON ${S}.a (created_seq); CREATE INDEX ON ${S}.a (queue, state);
    CREATE INDEX ON ${S}.a (lease_until) WHERE state = 'active'; CREATE INDEX ON ${S}.a (expires_at) WHERE expires_at IS NOT NULL;
    CREATE TABLE ${S}.b (${COLUMNS}) WITH (fillfactor = 70);
    CREATE INDEX ON ${S}.b (queue, created_seq); CREATE INDEX ON ${S}.b (created_seq);
    CREATE TABLE ${S}.ready (queue text, priority int, ready_seq bigint, id text, PRIMARY KEY (queue, priority, ready_seq));
    CREATE TABLE ${S}.lease (id text PRIMARY KEY, lease_until bigint);
    INSERT INTO ${S}.a ${ROWS};
    INSERT INTO ${S}.b ${ROWS};
    INSERT INTO ${S}.ready SELECT 'bench', 0, i, 'j' || i FROM generate_series(1, ${N}) i;
    ANALYZE ${S}.a; ANALYZE ${S}.b; ANALYZE ${S}.ready;`);

  const ids = (i: number) => Array.from({ length: BATCH }, (_, k) => `j${i + k + 1}`);
  async function run(label: string, step: (i: number) => Promise<unknown>): Promise<void> {
    const t0 = performance.now();
    for (let i = 0; i < N; i += BATCH) await step(i);
    console.log(`${label}: ${(((performance.now() - t0) * 1000) / N).toFixed(1)} µs per job (wall, one connection)`);
  }
  await run('today: claim (non-HOT update)', () =>
    client.query(`UPDATE ${S}.a j SET state = 'active', lease_until = 1, token = 't' FROM (SELECT id FROM ${S}.a
      WHERE queue = 'bench' AND state = 'queued' ORDER BY priority DESC, ready_seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED) s WHERE j.id = s.id`),
  );
  await run('today: finish (non-HOT update)', (i) =>
    client.query(`UPDATE ${S}.a SET state = 'completed', finished_at = 2, expires_at = 3, doc = doc || '{"result":null}' WHERE id = ANY($1)`, [ids(i)]),
  );
  await run('narrow ready table: claim (delete + HOT update + lease row)', () =>
    client.query(`WITH r AS (DELETE FROM ${S}.ready WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${S}.ready WHERE queue = 'bench'
      ORDER BY priority, ready_seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)) RETURNING id),
      l AS (INSERT INTO ${S}.lease SELECT id, 1 FROM r)
      UPDATE ${S}.b j SET state = 'active', lease_until = 1, token = 't' FROM r WHERE j.id = r.id`),
  );
  await run('narrow ready table: finish (HOT update + lease delete)', (i) =>
    client.query(
      `WITH l AS (DELETE FROM ${S}.lease WHERE id = ANY($1))
       UPDATE ${S}.b SET state = 'completed', finished_at = 2, expires_at = 3, doc = doc || '{"result":null}' WHERE id = ANY($1)`,
      [ids(i)],
    ),
  );
  const hot = await client.query(`SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = $1 AND relname IN ('a', 'b') ORDER BY relname`, [S]);
  // PostgreSQL 15 flushes these counters about once a second: a rough share, not a total.
  for (const r of hot.rows) console.log(`table ${r.relname}: ${r.n_tup_upd} updates counted so far, ${r.n_tup_hot_upd} of them HOT`);
} finally {
  await client.query(`DROP SCHEMA ${S} CASCADE`);
  await client.end();
}
