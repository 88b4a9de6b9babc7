/**
 * plainjob at its defaults (one worker, one job at a time, 1 s poll), on node:sqlite: plainjob
 * takes any Connection, and better-sqlite3 cannot be built for Node 24 on this machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { defineQueue, defineWorker, type Connection } from 'plainjob';
import type { Adapter } from './adapter.ts';

/** The subset of better-sqlite3 that plainjob uses (it never branches on `driver`). */
function nodeSqlite(filename: string): Connection {
  const db = new DatabaseSync(filename);
  // plainjob's statements use `@name` and pass `{name}`, like better-sqlite3 and bun's strict mode.
  const prepare = (sql: string) => {
    const stmt = db.prepare(sql);
    stmt.setAllowBareNamedParameters(true);
    return stmt as unknown as ReturnType<Connection['prepare']>;
  };
  const inTransaction =
    (begin: string, fn: (...args: unknown[]) => unknown) =>
    (...args: unknown[]) => {
      db.exec(begin);
      try {
        const result = fn(...args);
        db.exec('COMMIT');
        return result;
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    };
  return {
    driver: 'better-sqlite3',
    filename,
    pragma: (stmt) => db.exec(`PRAGMA ${stmt}`),
    exec: (sql) => db.exec(sql),
    prepare,
    // plainjob calls the returned function, or its `.immediate()` to claim a job.
    transaction: (fn) => Object.assign(inTransaction('BEGIN', fn), { immediate: inTransaction('BEGIN IMMEDIATE', fn) }) as never,
    close: () => db.close(),
  };
}

export function plainjob(): Adapter {
  let dir = '';
  let queue: ReturnType<typeof defineQueue>;
  const logger = { info() {}, warn() {}, error() {}, debug() {} };
  return {
    settings: 'defaults, on node:sqlite (better-sqlite3 cannot build for Node 24 here); one worker, one job at a time (no concurrency option)',
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'plainjob-bench-'));
      queue = defineQueue({ connection: nodeSqlite(join(dir, 'bench.db')), logger });
    },
    async addBulk(items) {
      queue.addMany('job', items);
    },
    async add(item) {
      queue.add('job', item);
    },
    async work(_concurrency, handler) {
      const worker = defineWorker('job', async (job) => handler(JSON.parse(job.data)), { queue, logger });
      void worker.start();
      return { close: () => worker.stop() };
    },
    async teardown() {
      queue.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
