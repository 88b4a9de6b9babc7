/**
 * A quick measure of the PostgreSQL store's hot paths (not a test, not a comparison with
 * peers), with the server's CPU per job. Run: ./node_modules/.bin/node bench/postgres-smoke.ts [url] [jobs]
 *
 * 1. enqueue in batches of 1,000
 * 2. claim + finish in batches of 50 (a Worker at concurrency 50), one loop
 * 3. the same with 4 loops at once (several workers)
 * 4. the tables' size after all of it (finished jobs kept)
 * Server CPU: utime+stime of every `postgres` process (/proc), before and after each part.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { buildNewJob } from '../src/core/options.ts';
import { PostgresStore } from '../src/stores/postgres/postgres-store.ts';

const url = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/test';
const TOTAL = Number(process.argv[3] ?? 40_000);
/** KEEP=0: finished jobs live 1 ms and upkeep runs every 100 batches, as with a retention setting. */
const KEEP = process.env.KEEP !== '0';
const schema = `smoke_${process.pid}`;
const store = await PostgresStore.connect(url, { schema });

/** CPU ms of all postgres processes, exited backends included (the postmaster's children times). */
function serverCpuMs(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      if (s.slice(s.indexOf('(') + 1, close) !== 'postgres') continue;
      const f = s.slice(close + 2).split(' ').map(Number);
      ticks += f[11] + f[12] + f[13] + f[14];
    } catch {
      // exited meanwhile
    }
  }
  return ticks * 10;
}

async function part(label: string, n: number, fn: () => Promise<void>): Promise<void> {
  const s0 = serverCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const server = serverCpuMs() - s0;
  console.log(`${label}: ${Math.round((n / ms) * 1000).toLocaleString('en')} jobs/s, server ${((server * 1000) / n).toFixed(0)} µs/job, client ${((c.user + c.system) / n).toFixed(0)} µs/job`);
}

async function fill(queue: string): Promise<void> {
  const now = store.clock.now();
  for (let i = 0; i < TOTAL; i += 1000) await store.enqueue(Array.from({ length: 1000 }, (_, k) => buildNewJob(queue, 'work', { i: i + k, s: 'x'.repeat(100) }, KEEP ? {} : { resultTtl: 1 }, {}, undefined, now)));
}

let cycles = 0;

async function drain(queue: string, loops: number): Promise<void> {
  await Promise.all(
    Array.from({ length: loops }, async (_, w) => {
      for (;;) {
        const jobs = await store.claim({ queues: [queue], workerId: `w${w}`, limit: Number(process.env.BATCH ?? 50), leaseMs: 60_000 });
        if (jobs.length === 0) return;
        await store.finish(jobs.map((j) => ({ id: j.id, token: j.token, kind: 'completed' as const, result: null })));
        if (!KEEP && ++cycles % 100 === 0) await store.maintain();
      }
    }),
  );
}

/** The schema's tables with their indexes and TOAST, in MB. */
async function sizeMb(): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(
      `SELECT c.relname, pg_total_relation_size(c.oid)::float8 / 1048576 AS mb, pg_relation_size(c.oid)::float8 / 1048576 AS heap_mb
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY 2 DESC`,
      [schema],
    );
    const total = r.rows.reduce((s, x) => s + x.mb, 0);
    const jobs = r.rows.find((x) => x.relname === 'jobs');
    return `${total.toFixed(1)} MB in all; jobs ${jobs.heap_mb.toFixed(1)} MB of rows + ${(jobs.mb - jobs.heap_mb).toFixed(1)} MB of indexes`;
  } finally {
    await c.end();
  }
}

try {
  await part('enqueue, batches of 1,000', TOTAL, () => fill('a'));
  await part('claim + finish, batches of 50, 1 loop', TOTAL, () => drain('a', 1));
  await fill('b');
  await part('claim + finish, batches of 50, 4 loops', TOTAL, () => drain('b', 4));
  if (!KEEP) await store.maintain();
  console.log(`after ${(2 * TOTAL).toLocaleString('en')} jobs processed (${KEEP ? 'all kept' : 'removed by retention'}): ${await sizeMb()}`);
} finally {
  await store.close();
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query(`DROP SCHEMA "${schema}" CASCADE`);
  await c.end();
}
