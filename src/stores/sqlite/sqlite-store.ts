/**
 * The embedded SQLite backend on node:sqlite (Conveyor's default). Each write method is
 * one `BEGIN IMMEDIATE` transaction over its whole batch, so several processes can share
 * one file: SQLite serializes the writers, busy_timeout makes them wait their turn.
 *
 * The decisions (states, retries, dependencies, retention) come from ../rules.ts, exactly
 * as the memory store makes them; this file only reads and writes rows. What other
 * processes on the file write reaches waiters and subscribers through process-feed.ts.
 */
import { historyStart, tallyEvents } from '../minutes.ts';
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { systemClock, type Clock } from '../../core/clock.ts';
import { joinSchedule, progressJson, splitSchedule, type Schedule, type ScheduleProgress } from '../../core/schedule.ts';
import { ConnectionError, NotFoundError, StorageError, ValidationError } from '../../core/errors.ts';
import type { ClaimedJob, EnqueueResult, Job, LogLine, NewJob } from '../../core/job.ts';
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, defaultQueueConfig } from '../../core/queue-config.ts';
import { isFinished, UNFINISHED_STATES, WAITING_STATES, type JobState } from '../../core/states.ts';
import { fairTurn, type GroupTurn } from '../../engine/fair-turns.ts';
import { planDedupe, settleDedupe, type DedupeEntry } from '../dedupe.ts';
import { openWindow, queueWindow, type RateWindow } from '../../engine/rate-window.ts';
import { EXPIRED, stallOutcome, startAttempt } from '../../engine/transitions.ts';
import { JobMachine, type JobRows } from '../job-machine.ts';
import { clampProgress, countGroup, decodeCursor, encodeCursor, MAX_LOG_LINES, pageLimit, topGroups, truncateLine } from '../rules.ts';
import {
  type GroupCounts,
  type GroupPage,
  emptyCounts,
  type MinuteCounts,
  type ClaimRequest,
  type CleanRequest,
  type EnqueueOptions,
  type JobEvent,
  type JobPage,
  type JobUpdate,
  type Lease,
  type ListFilter,
  type MaintainReport,
  type Outcome,
  type QueueInfo,
  type StateCounts,
  type Store,
  type WorkerInfo,
  type FinishAndClaim,
  finishThenClaim,
} from '../store.ts';
import { decodeDoc, DOC_COLUMNS, encodeDoc, type DocColumns } from '../job-doc.ts';
import { ProcessFeed } from './process-feed.ts';
import { EVENTS_KEPT, LATE_READY_QUERY, MIGRATIONS, SCHEMA } from './schema.ts';

export interface SqliteOptions {
  /** 'process' (default): WAL + synchronous=NORMAL, survives kill -9 of any process. 'power': synchronous=FULL, survives power loss. */
  durability?: 'process' | 'power';
  busyTimeoutMs?: number;
  /** The store's time (default: the real clock); a TestClock in tests. */
  clock?: Clock;
}

/** Jobs per part (promote, reclaim, expire) in one upkeep round, and rounds per maintain() call. */
const MAINTAIN_BATCH = 1000;
const MAINTAIN_ROUNDS = 50;

interface Row extends DocColumns {
  data: string;
  doc: string;
  token: string | null;
  log_count: number;
}

/** The columns a Row is read from. */
const ROW = `${DOC_COLUMNS}, data, doc, token, log_count`;

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly location: string;
  readonly clock: Clock;
  private readonly db: DatabaseSync;
  private readonly stmts = new Map<string, StatementSync>();
  private readonly origin = randomUUID();
  /** Waiters, subscribers, and what other processes on the file write. */
  private readonly feed: ProcessFeed;
  private pending: JobEvent[] = [];
  /**
   * Queue settings as last read or written, and queues known to have a row. Valid while no
   * other connection has committed (PRAGMA data_version unchanged) and none of our calls
   * has rolled back; read-only (public reads get copies).
   */
  private readonly configs = new Map<string, QueueConfig>();
  private readonly queuesKnown = new Set<string>();
  private configsVersion = -1;
  /** The calls of the open transaction, settled when it commits (null: none open). */
  private group: { resolve: () => void; reject: (err: unknown) => void }[] | null = null;
  private closed = false;
  private readonly machine: JobMachine;
  /** Views of this store through callers' own connections (see guestOn). */
  private readonly guests = new WeakMap<DatabaseSync, SqliteStore>();
  /** The rowid the next new job takes (set as each enqueue call starts). */
  private nextRowid = 0;

  /** The file's identity at open: a write is acknowledged only while the path still names it. */
  private readonly fileId: { dev: number; ino: number } | null;
  /** The last write refused for a full disk (cleared by the next commit that succeeds). */
  private full: string | null = null;

  private constructor(path: string, db: DatabaseSync, clock: Clock) {
    this.location = path;
    this.db = db;
    this.clock = clock;
    const st = path === ':memory:' ? null : statSync(path);
    this.fileId = st ? { dev: st.dev, ino: st.ino } : null;
    this.machine = new JobMachine(this.rows());
    this.feed = new ProcessFeed({ st: (sql) => this.st(sql), version: () => this.version(), origin: this.origin, clock });
  }

  static open(path: string, options: SqliteOptions = {}): SqliteStore {
    if (typeof path !== 'string' || path.trim() === '') throw new ValidationError('the SQLite path must be a file path', 'db');
    const file = path === ':memory:' ? path : resolve(path);
    if (file !== ':memory:') {
      if (existsSync(file) && statSync(file).isDirectory()) throw new ConnectionError(`cannot open SQLite database ${file}: it is a directory`);
      if (!existsSync(dirname(file))) throw new ConnectionError(`cannot open SQLite database ${file}: directory ${dirname(file)} does not exist`);
    }
    if (options.durability !== undefined && options.durability !== 'process' && options.durability !== 'power') {
      throw new ValidationError('durability must be "process" or "power"', 'durability');
    }
    let db: DatabaseSync | null = null;
    try {
      db = new DatabaseSync(file);
      db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.round(options.busyTimeoutMs ?? 10_000))}`);
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${options.durability === 'power' ? 'FULL' : 'NORMAL'}`);
      // 8 MB of page cache. Bigger is slower: every commit walks the whole cache (SQLite's
      // pcache1TruncateUnsafe, 12% of a claim/finish loop at 64 MB), and a deep queue's
      // claims touch few pages (measured: 10,000 jobs from a 200,000-deep queue took 770 ms
      // with 64 MB, 600–650 ms with 2 or 8 MB).
      db.exec('PRAGMA cache_size = -8192');
      db.exec('BEGIN IMMEDIATE');
      db.exec(SCHEMA);
      const columns = new Set((db.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name));
      for (const sql of MIGRATIONS(columns)) db.exec(sql);
      db.exec('COMMIT');
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already unusable
      }
      throw new ConnectionError(`cannot open SQLite database ${file}: ${(err as Error).message}`, { cause: err });
    }
    return new SqliteStore(file, db, options.clock ?? systemClock);
  }

  // ----- plumbing -----------------------------------------------------------------------

  private st(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  /** Takes the next ready jobs of a queue (of some names only, when `byName`) in one statement. */
  private claimStmt(byName: boolean): StatementSync {
    return this.st(`UPDATE jobs SET state = 'active', token = lower(hex(randomblob(16))), lease_until = :until,
        doc = json_remove(json_set(doc, '$.attempt', coalesce(json_extract(doc, '$.attempt'), 0) + 1, '$.startedAt', :now,
          '$.workerId', :worker, '$.leaseUntil', :until), '$.progress', '$.message')
      WHERE id IN (SELECT id FROM jobs WHERE queue = :queue AND state = 'queued'${byName ? ' AND name IN (SELECT value FROM json_each(:names))' : ''}
        ORDER BY priority DESC, ready_seq LIMIT :n)
      RETURNING ${ROW}, ready_seq`);
  }

  private version(): number {
    return (this.st('PRAGMA data_version').get() as { data_version: number }).data_version;
  }

  /**
   * Runs fn in the current write transaction, opening one if none is open, and resolves
   * once that transaction has committed. Group commit: every call made in the same turn
   * of the event loop (a worker's finish batch and its next claim, concurrent HTTP adds)
   * shares one BEGIN/COMMIT, which is most of the cost of a small batch. Each call is a
   * savepoint, so one that throws rolls back alone. The write lock is held until the
   * commit at the end of the turn (setImmediate).
   */
  private tx<T>(fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new ConnectionError(`SQLite store ${this.location} is closed`));
    if (this.group === null) {
      try {
        this.db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        return Promise.reject(err as Error);
      }
      this.group = [];
      setImmediate(() => this.commitGroup());
    }
    const mark = this.pending.length;
    let out: T;
    try {
      this.db.exec('SAVEPOINT call');
      this.syncConfigs();
      out = fn();
      this.db.exec('RELEASE call');
    } catch (err) {
      this.pending.length = mark;
      this.forgetConfigs();
      try {
        this.db.exec('ROLLBACK TO call');
        this.db.exec('RELEASE call');
      } catch {
        // the savepoint is already gone
      }
      return Promise.reject(this.storageError(err));
    }
    const group = this.group;
    return new Promise<T>((resolve, reject) => group.push({ resolve: () => resolve(out), reject }));
  }

  /** Why the path no longer names the file this store writes, or null. */
  private lost(): string | null {
    if (this.fileId === null) return null;
    try {
      const st = statSync(this.location);
      return st.ino === this.fileId.ino && st.dev === this.fileId.dev ? null : `the database file ${this.location} was replaced by another file`;
    } catch {
      return `the database file ${this.location} was removed (or its folder)`;
    }
  }

  /** SQLite's "disk is full" as a StorageError naming the file; other errors as they are. */
  private storageError(err: unknown): unknown {
    const message = (err as Error)?.message ?? '';
    if (!/database or disk is full|SQLITE_FULL/i.test(message)) return err;
    this.full = `the disk holding ${this.location} is full`;
    return new StorageError('STORAGE_FULL', `${this.full}: free space, then try again (nothing of this write was kept)`, { cause: err });
  }

  /** Commits the open transaction, then settles its calls and emits their events. */
  private commitGroup(): void {
    const group = this.group;
    if (group === null) return;
    this.group = null;
    const events = this.pending;
    this.pending = [];
    try {
      // Before acknowledging anything: writes to a file that was removed would be lost.
      const lost = this.lost();
      if (lost) throw new StorageError('STORAGE_LOST', `${lost}; refusing writes (restart with a database file in place)`);
      // One row for the whole transaction's events: a row per event doubled the rows a
      // claim or finish batch writes.
      // Only while another store reads them: a process alone on its file (the common case)
      // delivers its events in memory and writes no row, a page less per commit.
      if (events.length > 0 && this.feed.othersListen()) this.st('INSERT INTO events (origin, body) VALUES (?, ?)').run(this.origin, JSON.stringify(events));
      // One row per queue and minute for the whole transaction, not one write per job.
      for (const t of tallyEvents(events)) {
        this.st('INSERT INTO minutes (queue, at, completed, failed) VALUES (?, ?, ?, ?) ON CONFLICT (at, queue) DO UPDATE SET completed = completed + excluded.completed, failed = failed + excluded.failed').run(
          t.queue,
          t.at,
          t.completed,
          t.failed,
        );
      }
      this.db.exec('COMMIT');
    } catch (err) {
      this.forgetConfigs();
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // the transaction is already gone
      }
      const mapped = this.storageError(err);
      for (const c of group) c.reject(mapped);
      return;
    }
    this.full = null;
    for (const c of group) c.resolve();
    for (const e of events) this.feed.deliver(e);
  }

  private emit(e: JobEvent): void {
    this.pending.push(e);
  }

  /**
   * A new arrival number for a job queued again (retry, release, promote): above every
   * number given so far, new jobs' rowids included.
   */
  private nextSeq(): number {
    return (
      this.st("UPDATE meta SET value = max(value, (SELECT COALESCE(MAX(rowid), 0) FROM jobs)) + 1 WHERE key = 'seq' RETURNING value").get() as {
        value: number;
      }
    ).value;
  }

  /** The arrival number of a job becoming ready: `next`, or its group's turn (engine/fair-turns.ts). */
  private turn(job: Job, next: number): number {
    if (job.groupKey === null) return next;
    const prev = this.st('SELECT last, used FROM fair WHERE queue = ? AND priority = ? AND grp = ?').get(job.queue, job.priority, job.groupKey) as GroupTurn | undefined;
    const turn = fairTurn(this.lineHead(job.queue, job.priority), next, prev, this.config(job.queue).groupWeights[job.groupKey]);
    this.st('INSERT INTO fair (queue, priority, grp, last, used) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET last = excluded.last, used = excluded.used').run(
      job.queue,
      job.priority,
      job.groupKey,
      turn.last,
      turn.used,
    );
    return turn.last;
  }

  /** Forgets turns at or behind their line's head: they would change no later turn. */
  private forgetPastTurns(): void {
    const lines = this.st('SELECT DISTINCT queue, priority FROM fair').all() as { queue: string; priority: number }[];
    for (const { queue, priority } of lines) {
      const head = this.lineHead(queue, priority);
      if (head !== null) this.st('DELETE FROM fair WHERE queue = ? AND priority = ? AND last <= ?').run(queue, priority, head);
      else this.st('DELETE FROM fair WHERE queue = ? AND priority = ?').run(queue, priority);
    }
  }

  /** The arrival number of the next job to be claimed at this priority, or null when none waits. */
  private lineHead(queue: string, priority: number): number | null {
    const row = this.st("SELECT ready_seq FROM jobs WHERE queue = ? AND state = 'queued' AND priority = ? ORDER BY ready_seq LIMIT 1").get(queue, priority) as
      | { ready_seq: number }
      | undefined;
    return row?.ready_seq ?? null;
  }

  /**
   * The number after which new jobs take their rowids (= creation and first arrival
   * numbers). Read only: adds write no counter page (the transaction's write lock keeps
   * the numbers unique).
   */
  private seqBase(): number {
    return (
      this.st("SELECT max((SELECT COALESCE(MAX(rowid), 0) FROM jobs), (SELECT value FROM meta WHERE key = 'seq')) AS base").get() as { base: number }
    ).base;
  }

  /**
   * Drops cached settings if another connection committed since they were read. Called as
   * each write call starts (no other connection can commit while our transaction is open)
   * and by the reads that return settings.
   */
  private syncConfigs(): void {
    const v = this.version();
    if (v === this.configsVersion) return;
    this.forgetConfigs();
    this.configsVersion = v;
  }

  private config(queue: string): QueueConfig {
    let cfg = this.configs.get(queue);
    if (!cfg) {
      cfg = this.readConfig(queue);
      this.configs.set(queue, cfg);
    }
    return cfg;
  }

  private forgetConfigs(): void {
    this.configs.clear();
    this.queuesKnown.clear();
    this.configsVersion = -1;
  }

  private readConfig(queue: string): QueueConfig {
    const row = this.st('SELECT config FROM queues WHERE name = ?').get(queue) as { config: string } | undefined;
    return row ? { ...DEFAULT_QUEUE_CONFIG, ...(JSON.parse(row.config) as QueueConfig) } : defaultQueueConfig();
  }

  private ensureQueue(queue: string): void {
    // Rows are never deleted; the set is cleared with the settings cache.
    if (this.queuesKnown.has(queue)) return;
    this.st('INSERT OR IGNORE INTO queues (name, config) VALUES (?, ?)').run(queue, JSON.stringify(DEFAULT_QUEUE_CONFIG));
    this.queuesKnown.add(queue);
  }

  private load(id: string): { job: Job; row: Row } | null {
    const row = this.st(`SELECT ${ROW} FROM jobs WHERE id = ?`).get(id) as Row | undefined;
    return row ? { job: this.toJob(row), row } : null;
  }

  private toJob(row: Row): Job {
    const job = decodeDoc(row.doc, row);
    job.data = JSON.parse(row.data);
    job.logCount = row.log_count;
    return job;
  }

  /** A job to write back, without its data (save() never writes data): finish's path. */
  private loadForWrite(id: string): { job: Job; token: string | null } | null {
    const row = this.st(`SELECT ${DOC_COLUMNS}, doc, token FROM jobs WHERE id = ?`).get(id) as
      | (DocColumns & { doc: string; token: string | null })
      | undefined;
    return row ? { job: decodeDoc(row.doc, row), token: row.token } : null;
  }

  /** Writes the job's columns and document back. */
  private save(job: Job, token: string | null, readySeq?: number): void {
    this.st(
      `UPDATE jobs SET state = ?, priority = ?, run_at = ?, lease_until = ?, token = ?, expires_at = ?, finished_at = ?, doc = ?${readySeq === undefined ? '' : ', ready_seq = ?'} WHERE id = ?`,
    ).run(job.state, job.priority, job.runAt, job.leaseUntil, token, job.expiresAt, job.finishedAt, encodeDoc(job), ...(readySeq === undefined ? [] : [readySeq]), job.id);
  }

  /** Wakes this process's waiters for a job that just became ready or scheduled. */
  private announce(job: Job): void {
    if (job.state === 'queued') this.feed.waiters.notify(job.queue);
    else if (job.state === 'scheduled') this.feed.waiters.notifyAt(job.queue, job.runAt!);
  }

  /** The rows the shared state machine works on: jobs decoded from their row and written back. */
  private rows(): JobRows {
    return {
      load: (id) => this.loadForWrite(id)?.job ?? null,
      leased: (id, token) => this.leased(id, token),
      stateOf: (id) => this.stateOf(id),
      config: (queue) => this.config(queue),
      write: (job, _from, token) => {
        this.save(job, job.state === 'active' ? token : null, job.state === 'queued' ? this.turn(job, this.nextSeq()) : undefined);
        this.announce(job);
      },
      insert: (job, dataJson) => {
        // A new job's rowid is its creation number and doubles as its first arrival number
        // (all three only order jobs).
        const seq = ++this.nextRowid;
        const ready = job.state === 'queued' ? this.turn(job, seq) : seq;
        this.st(
          'INSERT INTO jobs (rowid, id, queue, name, state, priority, created_seq, ready_seq, run_at, group_key, created_at, start_by, data, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(seq, job.id, job.queue, job.name, job.state, job.priority, seq, ready, job.runAt, job.groupKey, job.createdAt, job.startBy, dataJson, encodeDoc(job));
        this.announce(job);
      },
      delete: (job) => {
        this.st('DELETE FROM jobs WHERE id = ?').run(job.id);
        this.st('DELETE FROM logs WHERE job_id = ?').run(job.id);
        this.st('DELETE FROM deps WHERE child = ?').run(job.id);
      },
      link: (child, parents) => {
        for (const d of parents) this.st('INSERT OR IGNORE INTO deps (child, parent) VALUES (?, ?)').run(child, d);
      },
      takeChildren: (parentId) => {
        const rows = this.st('SELECT child FROM deps WHERE parent = ?').all(parentId) as { child: string }[];
        if (rows.length > 0) this.st('DELETE FROM deps WHERE parent = ?').run(parentId);
        return rows.map((r) => r.child);
      },
      replaceData: (job, dataJson) => {
        this.st('UPDATE jobs SET data = ? WHERE id = ?').run(dataJson, job.id);
      },
      moveQueue: (job) => {
        this.ensureQueue(job.queue);
        this.st('UPDATE jobs SET queue = ?, expires_at = ?, doc = ? WHERE id = ?').run(job.queue, job.expiresAt, encodeDoc(job), job.id);
      },
      emit: (e) => this.emit(e),
    };
  }

  private stateOf(id: string): JobState | undefined {
    return (this.st('SELECT state FROM jobs WHERE id = ?').get(id) as { state: JobState } | undefined)?.state;
  }

  // ----- writes -------------------------------------------------------------------------

  async enqueue(jobs: NewJob[], options: EnqueueOptions = {}): Promise<EnqueueResult[]> {
    if (options.tx !== undefined) return this.guestOn(options.tx).addInCallersTx(jobs);
    return this.tx(() => this.add(jobs));
  }

  /** Adds a batch inside the open transaction (the store's, or the caller's for a guest). */
  private add(jobs: NewJob[]): EnqueueResult[] {
    for (const queue of new Set(jobs.map((j) => j.queue))) this.ensureQueue(queue);
    // Which of the batch's ids exist, in one query rather than two lookups per job.
    const batchIds = new Set(jobs.map((j) => j.id));
    const rows = this.st('SELECT id, state FROM jobs WHERE id IN (SELECT value FROM json_each(?))').all(JSON.stringify([...batchIds])) as { id: string; state: JobState }[];
    const known = new Map(rows.map((r) => [r.id, r.state]));
    this.nextRowid = this.seqBase();
    const view = {
      exists: (id: string) => (batchIds.has(id) ? known.has(id) : this.stateOf(id) !== undefined),
      config: (queue: string) => this.config(queue),
      unfinished: (queue: string, name?: string) => this.unfinished(queue, name),
      oldestWaiting: (queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>) => this.oldestWaiting(queue, name, n, skip),
    };
    const now = this.clock.now();
    const stateOf = (id: string) => known.get(id) ?? this.stateOf(id);
    const lookup = (queue: string, key: string) => (this.st('SELECT id, until FROM dedupe WHERE queue = ? AND key = ?').get(queue, key) as DedupeEntry | undefined) ?? null;
    const plan = planDedupe(jobs, now, lookup, stateOf);
    const settled = settleDedupe(jobs.length, plan, this.machine.enqueue(plan.fresh, now, view, (id) => known.get(id)));
    for (const p of plan.push) this.machine.debounce(p.id, p.dataJson, p.runAt, now);
    const save = this.st('INSERT INTO dedupe (queue, key, id, until) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET id = excluded.id, until = excluded.until');
    for (const t of settled.take) save.run(t.queue, t.key, t.entry.id, t.entry.until);
    return settled.results;
  }

  /**
   * This store's rows as seen through the application's own connection on the same file
   * (`enqueue(jobs, { tx: db })`): a second SqliteStore over that handle, kept per handle.
   */
  private guestOn(handle: unknown): SqliteStore {
    if (!(handle instanceof DatabaseSync)) throw new ValidationError('tx must be your DatabaseSync (node:sqlite) on the same file, inside BEGIN … COMMIT', 'tx');
    if (!handle.isOpen) throw new ValidationError('tx is a closed DatabaseSync', 'tx');
    const file = handle.location();
    if (file === null || resolve(file) !== this.location) {
      throw new ValidationError(`tx is a connection to ${file ?? 'an in-memory database'}, not to this store's file ${this.location}`, 'tx');
    }
    if (!handle.isTransaction) throw new ValidationError('tx must be inside your transaction: call BEGIN (or BEGIN IMMEDIATE) first', 'tx');
    let guest = this.guests.get(handle);
    if (!guest) {
      guest = new SqliteStore(this.location, handle, this.clock);
      this.guests.set(handle, guest);
    }
    return guest;
  }

  /**
   * The add of a guest: inside the caller's transaction, as a savepoint (a refused batch
   * changes nothing of theirs). The caller commits; other stores on the file, this
   * process's own included, learn of it as of any other process's write.
   */
  private addInCallersTx(jobs: NewJob[]): Promise<EnqueueResult[]> {
    this.forgetConfigs();
    this.pending = [];
    try {
      this.db.exec('SAVEPOINT conveyor_add');
      const out = this.add(jobs);
      if (this.pending.length > 0 && this.feed.othersListen()) this.st('INSERT INTO events (origin, body) VALUES (?, ?)').run(this.origin, JSON.stringify(this.pending));
      this.db.exec('RELEASE conveyor_add');
      return Promise.resolve(out);
    } catch (err) {
      try {
        this.db.exec('ROLLBACK TO conveyor_add');
        this.db.exec('RELEASE conveyor_add');
      } catch {
        // the savepoint is already gone
      }
      return Promise.reject(this.storageError(err));
    } finally {
      this.pending = [];
    }
  }

  private unfinished(queue: string, name?: string): number {
    const states = UNFINISHED_STATES.map(() => '?').join(',');
    const sql = `SELECT COUNT(*) AS n FROM jobs WHERE queue = ? AND state IN (${states})${name === undefined ? '' : ' AND name = ?'}`;
    return (this.st(sql).get(queue, ...UNFINISHED_STATES, ...(name === undefined ? [] : [name])) as { n: number }).n;
  }

  private oldestWaiting(queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>): string[] {
    const states = WAITING_STATES.map(() => '?').join(',');
    const sql = `SELECT id FROM jobs WHERE queue = ? AND state IN (${states})${name === undefined ? '' : ' AND name = ?'} ORDER BY rowid LIMIT ?`;
    const rows = this.st(sql).all(queue, ...WAITING_STATES, ...(name === undefined ? [] : [name]), n + skip.size) as { id: string }[];
    return rows.map((r) => r.id).filter((id) => !skip.has(id)).slice(0, n);
  }

  private promoteDue(queues: string[] | null, now: number): number {
    const rows = (queues === null
      ? this.st(`SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT ${MAINTAIN_BATCH}`).all(now)
      : this.st(`SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= ? AND queue IN (${queues.map(() => '?').join(',')}) ORDER BY run_at LIMIT ${MAINTAIN_BATCH}`).all(now, ...queues)) as { id: string }[];
    for (const { id } of rows) this.machine.due(this.loadForWrite(id)!.job, now);
    return rows.length;
  }

  async claim(req: ClaimRequest): Promise<ClaimedJob[]> {
    return this.tx(() => {
      const now = this.clock.now();
      this.promoteDue(req.queues, now);
      const out: ClaimedJob[] = [];
      const names = req.names && req.names.length > 0 ? req.names : null;
      for (const queue of req.queues) {
        if (out.length >= req.limit) break;
        const q = this.st('SELECT config, rate_start, rate_count FROM queues WHERE name = ?').get(queue) as { config: string; rate_start: number; rate_count: number } | undefined;
        if (!q) continue;
        // Ready jobs past their latest start end canceled ("expired"), never claimed.
        const late = this.st(LATE_READY_QUERY).all(now, queue) as { id: string }[];
        if (late.length > 0) this.machine.cancel(late.map((r) => r.id), EXPIRED, now);
        const cfg = { ...DEFAULT_QUEUE_CONFIG, ...(JSON.parse(q.config) as QueueConfig) };
        if (cfg.paused) continue;
        let budget = req.limit - out.length;
        if (cfg.concurrency !== null) budget = Math.min(budget, cfg.concurrency - this.countState(queue, 'active'));
        let rateStart = q.rate_start;
        let rateCount = q.rate_count;
        if (cfg.rateLimit) {
          const w = queueWindow({ start: rateStart, count: rateCount }, cfg.rateLimit, now);
          rateStart = w.window.start;
          rateCount = w.window.count;
          budget = Math.min(budget, w.room);
          if (w.fullUntil !== null) this.feed.waiters.notifyAt(queue, w.fullUntil);
        }
        if (budget <= 0) continue;
        if (cfg.groupConcurrency === null && cfg.groupRateLimit === null) {
          // The common case in one statement: take the next `budget` ready jobs and lease them.
          const params = { queue, n: budget, now, until: now + req.leaseMs, worker: req.workerId, ...(names ? { names: JSON.stringify(names) } : {}) };
          const rows = this.claimStmt(names !== null).all(params) as unknown as (Row & { priority: number; ready_seq: number })[];
          rows.sort((a, b) => b.priority - a.priority || a.ready_seq - b.ready_seq);
          for (const row of rows) {
            out.push({ ...this.toJob(row), token: row.token! });
            this.emit({ type: 'active', queue, jobId: row.id, at: now, state: 'active' });
          }
          rateCount += rows.length;
          if (cfg.rateLimit) this.st('UPDATE queues SET rate_start = ?, rate_count = ? WHERE name = ?').run(rateStart, rateCount, queue);
          continue;
        }
        const sql = `SELECT id, name, group_key FROM jobs WHERE queue = ? AND state = 'queued'${names ? ` AND name IN (${names.map(() => '?').join(',')})` : ''} ORDER BY priority DESC, ready_seq LIMIT ?`;
        const candidates = this.st(sql).all(queue, ...(names ?? []), budget + 1000) as { id: string; name: string; group_key: string | null }[];
        const groups = new Map<string, number>();
        const windows = new Map<string, RateWindow>();
        for (const c of candidates) {
          if (budget <= 0) break;
          let active = 0;
          if (cfg.groupConcurrency !== null && c.group_key !== null) {
            active = groups.get(c.group_key) ?? (this.st("SELECT COUNT(*) AS n FROM jobs WHERE queue = ? AND state = 'active' AND group_key = ?").get(queue, c.group_key) as { n: number }).n;
            if (active >= cfg.groupConcurrency) continue;
          }
          let window: RateWindow | undefined;
          if (cfg.groupRateLimit !== null && c.group_key !== null) {
            const stored = windows.get(c.group_key) ?? (this.st('SELECT start, count FROM group_rates WHERE queue = ? AND grp = ?').get(queue, c.group_key) as RateWindow | undefined);
            window = openWindow(stored, cfg.groupRateLimit, now);
            windows.set(c.group_key, window);
            if (window.count >= cfg.groupRateLimit.max) {
              this.feed.waiters.notifyAt(queue, window.start + cfg.groupRateLimit.durationMs);
              continue;
            }
            window.count++;
          }
          if (cfg.groupConcurrency !== null && c.group_key !== null) groups.set(c.group_key, active + 1);
          const job = this.load(c.id)!.job;
          const token = randomUUID();
          startAttempt(job, req.workerId, now, req.leaseMs);
          this.machine.move(job, 'active', now, token);
          budget--;
          rateCount++;
          out.push({ ...job, token });
          this.emit({ type: 'active', queue, jobId: c.id, at: now, state: 'active' });
        }
        if (cfg.rateLimit) this.st('UPDATE queues SET rate_start = ?, rate_count = ? WHERE name = ?').run(rateStart, rateCount, queue);
        const save = this.st('INSERT INTO group_rates (queue, grp, start, count) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET start = excluded.start, count = excluded.count');
        for (const [group, w] of windows) save.run(queue, group, w.start, w.count);
      }
      return out;
    });
  }

  private countState(queue: string, state: JobState): number {
    return (this.st('SELECT COUNT(*) AS n FROM jobs WHERE queue = ? AND state = ?').get(queue, state) as { n: number }).n;
  }

  private leased(id: string, token: string): Job | null {
    const found = this.loadForWrite(id);
    return found && found.job.state === 'active' && found.token === token ? found.job : null;
  }

  async extend(leases: Lease[], leaseMs: number): Promise<boolean[]> {
    return this.tx(() => {
      const until = this.clock.now() + leaseMs;
      // The lease column is the one the reclaim query reads; the document follows on the next save.
      const upd = this.st("UPDATE jobs SET lease_until = ?, doc = json_set(doc, '$.leaseUntil', ?) WHERE id = ? AND state = 'active' AND token = ?");
      return leases.map((l) => Number(upd.run(until, until, l.id, l.token).changes) > 0);
    });
  }

  /** The two calls in turn: both go through the one writer, which commits what queues up together. */
  finishAndClaim(outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim> {
    return finishThenClaim(this, outcomes, next);
  }

  async finish(outcomes: Outcome[]): Promise<boolean[]> {
    return this.tx(() => {
      const now = this.clock.now();
      return outcomes.map((o) => this.machine.finish(o, now));
    });
  }

  async update(updates: JobUpdate[]): Promise<boolean[]> {
    return this.tx(() => {
      const now = this.clock.now();
      return updates.map((u) => {
        const found = this.load(u.id);
        if (!found || (u.token !== undefined && (found.job.state !== 'active' || found.row.token !== u.token))) return false;
        const job = found.job;
        if (u.progress !== undefined || u.message !== undefined) {
          if (u.progress !== undefined) job.progress = clampProgress(u.progress);
          if (u.message !== undefined) job.message = u.message;
          this.save(job, found.row.token);
          this.emit({ type: 'progress', queue: job.queue, jobId: job.id, at: now, progress: job.progress, message: job.message });
        }
        if (u.logs && u.logs.length > 0) {
          const top = (this.st('SELECT COALESCE(MAX(seq), 0) AS s FROM logs WHERE job_id = ?').get(job.id) as { s: number }).s;
          const ins = this.st('INSERT INTO logs (job_id, seq, at, stream, line) VALUES (?, ?, ?, ?, ?)');
          u.logs.forEach((l, i) => ins.run(job.id, top + i + 1, now, l.stream, truncateLine(l.line)));
          this.st('DELETE FROM logs WHERE job_id = ? AND seq <= ?').run(job.id, top + u.logs.length - MAX_LOG_LINES);
          this.st('UPDATE jobs SET log_count = (SELECT COUNT(*) FROM logs WHERE job_id = ?) WHERE id = ?').run(job.id, job.id);
          this.emit({ type: 'log', queue: job.queue, jobId: job.id, at: now });
        }
        return true;
      });
    });
  }

  cancel(ids: string[], reason = 'canceled'): Promise<string[]> {
    return this.tx(() => this.machine.cancel(ids, reason, this.clock.now()));
  }

  remove(ids: string[]): Promise<string[]> {
    return this.tx(() => {
      const now = this.clock.now();
      return this.machine.each(ids, null, now, (job) => this.machine.remove(job, now));
    });
  }

  retry(ids: string[]): Promise<string[]> {
    return this.tx(() => this.machine.retry(ids, this.clock.now()));
  }

  promote(ids: string[]): Promise<string[]> {
    return this.tx(() => this.machine.promote(ids, this.clock.now()));
  }

  async clean(req: CleanRequest): Promise<number> {
    return this.tx(() => {
      const now = this.clock.now();
      const states = [...new Set<JobState>(req.states ?? ['completed', 'failed', 'canceled'])].filter((s) => s !== 'active');
      if (states.length === 0) return 0;
      const cutoff = now - (req.olderThanMs ?? 0);
      const rows = this.st(
        `SELECT id FROM jobs WHERE queue = ? AND state IN (${states.map(() => '?').join(',')}) AND COALESCE(finished_at, created_at) <= ? ORDER BY rowid LIMIT ?`,
      ).all(req.queue, ...states, cutoff, req.limit ?? -1) as { id: string }[];
      let n = 0;
      for (const { id } of rows) {
        const job = this.loadForWrite(id)?.job;
        if (!job) continue;
        this.machine.remove(job, now);
        n++;
      }
      return n;
    });
  }

  async configureQueue(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig> {
    return this.tx(() => {
      this.ensureQueue(queue);
      const before = this.config(queue);
      const next = { ...before, ...structuredClone(patch) };
      this.st('UPDATE queues SET config = ? WHERE name = ?').run(JSON.stringify(next), queue);
      this.configs.set(queue, next);
      const now = this.clock.now();
      if (patch.paused !== undefined && patch.paused !== before.paused) this.emit({ type: patch.paused ? 'paused' : 'resumed', queue, at: now });
      if (patch.paused === false || patch.concurrency !== undefined || patch.rateLimit !== undefined || patch.groupRateLimit !== undefined || patch.groupConcurrency !== undefined) this.feed.waiters.notify(queue);
      return structuredClone(next);
    });
  }

  // ----- reads --------------------------------------------------------------------------

  async get(id: string): Promise<Job | null> {
    return this.load(id)?.job ?? null;
  }

  async list(filter: ListFilter): Promise<JobPage> {
    const limit = pageLimit(filter.limit);
    const after = decodeCursor(filter.cursor);
    const desc = (filter.order ?? 'desc') === 'desc';
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.queue !== undefined) {
      where.push('queue = ?');
      args.push(filter.queue);
    }
    if (filter.states && filter.states.length > 0) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      args.push(...filter.states);
    }
    if (filter.name !== undefined) {
      where.push('name = ?');
      args.push(filter.name);
    }
    if (filter.text) {
      where.push("(instr(lower(id), ?) > 0 OR instr(lower(data), ?) > 0)");
      args.push(filter.text.toLowerCase(), filter.text.toLowerCase());
    }
    if (after) {
      where.push(desc ? 'rowid < ?' : 'rowid > ?');
      args.push(after[0]);
    }
    // Creation order is rowid order (see schema.ts).
    const sql = `SELECT rowid AS seq, ${ROW} FROM jobs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY rowid ${desc ? 'DESC' : 'ASC'} LIMIT ?`;
    const rows = this.st(sql).all(...args, limit + 1) as unknown as (Row & { seq: number })[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page.map((r) => this.toJob(r)), next: rows.length > limit && last ? encodeCursor(last.seq, last.id) : null };
  }

  async logs(id: string, afterSeq = 0, limit = 1000): Promise<LogLine[]> {
    if (this.stateOf(id) === undefined) throw new NotFoundError(`job ${id} not found`);
    return this.st('SELECT seq, at, stream, line FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?').all(id, afterSeq, limit) as unknown as LogLine[];
  }

  async counts(queues?: string[]): Promise<Record<string, StateCounts>> {
    const names = queues ?? (this.st('SELECT name FROM queues ORDER BY name').all() as { name: string }[]).map((r) => r.name);
    const out: Record<string, StateCounts> = {};
    const q = this.st('SELECT state, COUNT(*) AS n FROM jobs WHERE queue = ? GROUP BY state');
    for (const name of names) {
      const c = emptyCounts();
      for (const r of q.all(name) as { state: JobState; n: number }[]) c[r.state] = r.n;
      out[name] = c;
    }
    return out;
  }

  async queues(): Promise<QueueInfo[]> {
    const counts = await this.counts();
    this.syncConfigs();
    return Object.keys(counts)
      .sort()
      .map((name) => ({ name, config: structuredClone(this.config(name)), counts: counts[name] }));
  }

  async queueConfig(queue: string): Promise<QueueConfig> {
    this.syncConfigs();
    return structuredClone(this.config(queue));
  }

  // ----- upkeep -------------------------------------------------------------------------

  /** Upkeep in rounds of at most MAINTAIN_BATCH jobs per part, each its own transaction, so other processes' writes interleave. */
  async maintain(now = this.clock.now()): Promise<MaintainReport> {
    const report: MaintainReport = { promoted: 0, reclaimed: 0, expired: 0 };
    for (let round = 0; round < MAINTAIN_ROUNDS; round++) {
      const r = await this.tx(() => this.maintainRound(now));
      report.promoted += r.promoted;
      report.reclaimed += r.reclaimed;
      report.expired += r.expired;
      if (!r.more) break;
    }
    return report;
  }

  private maintainRound(now: number): MaintainReport & { more: boolean } {
    const late = this.st(`SELECT id FROM jobs WHERE start_by <= ? AND state IN ('pending', 'scheduled', 'deferred', 'queued') LIMIT ${MAINTAIN_BATCH}`).all(now) as { id: string }[];
    if (late.length > 0) this.machine.cancel(late.map((r) => r.id), EXPIRED, now);
    const promoted = this.promoteDue(null, now);
    let reclaimed = 0;
    const lapsed = this.st(`SELECT id, token FROM jobs WHERE state = 'active' AND lease_until <= ? LIMIT ${MAINTAIN_BATCH}`).all(now) as { id: string; token: string }[];
    for (const { id, token } of lapsed) {
      const job = this.loadForWrite(id)!.job;
      if (this.machine.finish(stallOutcome(job, token, now), now)) reclaimed++;
    }
    let expired = 0;
    const due = this.st(`SELECT id FROM jobs WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ${MAINTAIN_BATCH}`).all(now) as { id: string }[];
    for (const { id } of due) {
      const job = this.loadForWrite(id)?.job;
      if (!job || !isFinished(job.state)) continue;
      this.machine.remove(job, now);
      expired++;
    }
    this.st('DELETE FROM workers WHERE until <= ?').run(now);
    // Registrations of stores that died without unsubscribing (every commit scans these).
    // Real time: they measure whether another process is alive, not job time.
    this.st('DELETE FROM listeners WHERE until <= ?').run(Date.now());
    this.st('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?').run(EVENTS_KEPT);
    this.st('DELETE FROM minutes WHERE at < ?').run(historyStart(0, now));
    this.forgetPastTurns();
    // Dedupe keys that can hold no more (stores/dedupe.ts): gone or finished jobs, past caps.
    this.st(`DELETE FROM dedupe WHERE CASE WHEN until IS NOT NULL THEN until <= ?
      ELSE coalesce((SELECT state IN ('completed', 'failed', 'canceled') FROM jobs WHERE jobs.id = dedupe.id), 1) END`).run(now);
    this.st('DELETE FROM dedupe WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = dedupe.id)').run();
    // Ended rate windows count for nothing.
    for (const { queue } of this.st('SELECT DISTINCT queue FROM group_rates').all() as { queue: string }[]) {
      const limit = this.config(queue).groupRateLimit;
      this.st('DELETE FROM group_rates WHERE queue = ? AND start <= ?').run(queue, limit ? now - limit.durationMs : Number.MAX_SAFE_INTEGER);
    }
    const more = late.length === MAINTAIN_BATCH || promoted === MAINTAIN_BATCH || lapsed.length === MAINTAIN_BATCH || due.length === MAINTAIN_BATCH;
    return { promoted, reclaimed, expired, more };
  }

  async dependents(id: string): Promise<string[]> {
    return (this.st('SELECT child FROM deps WHERE parent = ? ORDER BY child').all(id) as { child: string }[]).map((r) => r.child);
  }

  async history(since: number, queues?: string[]): Promise<MinuteCounts[]> {
    const rows = this.st('SELECT queue, at, completed, failed FROM minutes WHERE at >= ? ORDER BY at, queue').all(historyStart(since, this.clock.now())) as unknown as MinuteCounts[];
    const only = queues ? new Set(queues) : null;
    return rows.filter((r) => !only || only.has(r.queue)).map((r) => ({ queue: r.queue, at: r.at, completed: r.completed, failed: r.failed }));
  }

  async groups(queue: string, limit?: number): Promise<GroupPage> {
    const rows = this.st(`SELECT group_key AS g, state, count(*) AS n FROM jobs WHERE queue = ? AND state IN ('queued', 'active') AND group_key IS NOT NULL GROUP BY group_key, state`).all(
      queue,
    ) as { g: string; state: 'queued' | 'active'; n: number }[];
    const counts = new Map<string, GroupCounts>();
    for (const r of rows) countGroup(counts, r.g, r.state, r.n);
    return { groups: topGroups(counts, limit), sampled: false };
  }

  async wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return;
    // Scheduled jobs (perhaps added by another process) bound the sleep.
    const due = this.st(`SELECT queue, MIN(run_at) AS at FROM jobs WHERE state = 'scheduled' AND queue IN (${queues.map(() => '?').join(',')}) GROUP BY queue`).all(...queues) as { queue: string; at: number }[];
    for (const d of due) this.feed.waiters.notifyAt(d.queue, d.at);
    await this.feed.wait(queues, timeoutMs, signal);
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    return this.feed.subscribe(listener);
  }

  // ----- schedules ----------------------------------------------------------------------

  async saveSchedule(schedule: Schedule): Promise<void> {
    const { spec, progress } = splitSchedule(schedule);
    await this.tx(() => this.st('INSERT OR REPLACE INTO schedules (queue, id, spec, progress) VALUES (?, ?, ?, ?)').run(schedule.queue, schedule.id, spec, progress));
  }

  async schedules(queue?: string): Promise<Schedule[]> {
    const rows = (queue === undefined
      ? this.st('SELECT spec, progress FROM schedules ORDER BY queue, id').all()
      : this.st('SELECT spec, progress FROM schedules WHERE queue = ? ORDER BY id').all(queue)) as { spec: string; progress: string }[];
    return rows.map((r) => joinSchedule(r.spec, r.progress));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return this.tx(() => Number(this.st('DELETE FROM schedules WHERE queue = ? AND id = ?').run(queue, id).changes) > 0);
  }

  async advanceSchedule(queue: string, id: string, expected: ScheduleProgress, next: ScheduleProgress): Promise<boolean> {
    return this.tx(() => {
      const r = this.st('UPDATE schedules SET progress = ? WHERE queue = ? AND id = ? AND progress = ?').run(progressJson(next), queue, id, progressJson(expected));
      return Number(r.changes) > 0;
    });
  }

  // ----- leadership ---------------------------------------------------------------------

  async lead(role: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.tx(() => {
      const now = this.clock.now();
      const taken = this.st(
        `INSERT INTO leaders (role, holder, until) VALUES (?, ?, ?)
         ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, until = excluded.until WHERE leaders.holder = excluded.holder OR leaders.until <= ?`,
      ).run(role, holder, now + ttlMs, now);
      return Number(taken.changes) > 0;
    });
  }

  async resign(role: string, holder: string): Promise<void> {
    await this.tx(() => this.st('DELETE FROM leaders WHERE role = ? AND holder = ?').run(role, holder));
  }

  // ----- workers ------------------------------------------------------------------------

  async reportWorker(info: WorkerInfo, ttlMs: number): Promise<void> {
    await this.tx(() => this.st('INSERT OR REPLACE INTO workers (id, info, until) VALUES (?, ?, ?)').run(info.id, JSON.stringify(info), this.clock.now() + ttlMs));
  }

  async removeWorker(id: string): Promise<void> {
    await this.tx(() => this.st('DELETE FROM workers WHERE id = ?').run(id));
  }

  async workers(): Promise<WorkerInfo[]> {
    return (this.st('SELECT info FROM workers WHERE until > ? ORDER BY id').all(this.clock.now()) as { info: string }[]).map((r) => JSON.parse(r.info) as WorkerInfo);
  }

  async problem(): Promise<string | null> {
    return this.lost() ?? this.full;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Calls already acknowledged to their callers' event loop turn must still commit (and
    // their events reach the subscribers) before the feed stops.
    this.commitGroup();
    this.feed.close();
    this.db.close();
  }
}
