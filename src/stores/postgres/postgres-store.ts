/**
 * The PostgreSQL backend on `pg` (node-postgres). Every write method is one transaction on
 * a pooled connection; several processes (and machines) share a schema safely: rows are
 * locked while a transaction decides about them, claims skip rows others hold
 * (`FOR UPDATE SKIP LOCKED`), and a transaction that loses a race (deadlock, serialization,
 * a job id added twice at once) runs again from the start.
 *
 * Decisions come from the shared state machine (../job-machine.ts) over rows fetched into a
 * Snapshot; changes go back in one statement (./flush.ts). The hot paths are single
 * statements over a whole batch: a claim (`UPDATE … FROM (SELECT … FOR UPDATE SKIP LOCKED
 * LIMIT n)`), a finish (fetch the batch's rows, write them back), an extend.
 *
 * Jobs can be added inside the application's own transaction (`enqueue(jobs, { tx })`):
 * they exist if and only if it commits, and workers hear of them when it does.
 */
import { historyStart, minuteOf } from '../minutes.ts';
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { systemClock, type Clock } from '../../core/clock.ts';
import { ConnectionError, ConveyorError, NotFoundError, ValidationError } from '../../core/errors.ts';
import type { ClaimedJob, EnqueueResult, Job, LogLine, NewJob } from '../../core/job.ts';
import { DEFAULT_QUEUE_CONFIG, type QueueConfig, defaultQueueConfig } from '../../core/queue-config.ts';
import { joinSchedule, progressJson, splitSchedule, type Schedule, type ScheduleProgress } from '../../core/schedule.ts';
import { isFinished, JOB_STATES, UNFINISHED_STATES, WAITING_STATES, type JobState } from '../../core/states.ts';
import { openWindow, queueWindow, type RateWindow } from '../../engine/rate-window.ts';
import { debounceSlot, planDedupe, settleDedupe, type DedupeEntry } from '../dedupe.ts';
import { EXPIRED, stallOutcome, startAttempt } from '../../engine/transitions.ts';
import { JobMachine } from '../job-machine.ts';
import { decodeDoc } from '../job-doc.ts';
import { clampProgress, countGroup, decodeCursor, encodeCursor, MAX_LOG_LINES, pageLimit, topGroups, truncateLine } from '../rules.ts';
import {
  type GroupCounts,
  type GroupPage,
  emptyCounts,
  type ClaimRequest,
  type CleanRequest,
  type EnqueueOptions,
  type JobEvent,
  type JobEventType,
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
  type MinuteCounts,
  type FinishAndClaim,
  finishThenClaim,
} from '../store.ts';
import { eventsNotify, flushStatement, notifications, optimisticAddStatement } from './flush.ts';
import { ListenFeed } from './listen-feed.ts';
import { checkSchemaName, migrate, requireVersion } from './migrate.ts';
import { Missing, Snapshot, type Needs, type PgRow } from './snapshot.ts';
import { storableJson, storableText } from './storable.ts';

export interface PostgresOptions {
  /** The schema holding Conveyor's tables (default "conveyor"). */
  schema?: string;
  /** Apply pending migrations at open (default true); false: fail unless the schema is current. */
  migrate?: boolean;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** The store's time (default: the real clock); a TestClock in tests. */
  clock?: Clock;
}

/** Jobs per part (late, due, lapsed, retention) in one upkeep round, and rounds per maintain() call. */
const MAINTAIN_BATCH = 1000;
const MAINTAIN_ROUNDS = 50;
/** Times a transaction that lost a race runs again before the error reaches the caller. */
const RACE_RETRIES = 20;
/** deadlock_detected, serialization_failure, unique_violation (a job id or queue added twice at once). */
const RACES = new Set(['40P01', '40001', '23505']);

/**
 * What every pooler refusal says (docs/stores-postgres.md, "Connection poolers"). Refusals
 * are ValidationErrors: a setting to change, not a server to wait for (--wait-for-store
 * retries ConnectionErrors only).
 */
const POOLER_ADVICE =
  'Connect Conveyor to PostgreSQL directly, or through PgBouncer in session mode with the settings on the role (ALTER ROLE … SET enable_sort = off; ALTER ROLE … SET jit = off) and ignore_startup_parameters = options.';

/**
 * PostgreSQL text holds no NUL character, and a parameter with one fails the statement: an
 * id, token or filter with one names nothing stored, so it is answered as such, never sent.
 */
const storable = (s: string): boolean => !s.includes('\u0000');

/** The columns a PgRow is read from (the table is aliased j). */
const ROW = `j.id, j.queue, j.name, j.state, j.priority, j.created_at, j.start_by, j.data, j.doc::text AS doc, j.token, j.log_count`;
const ROW_WITH_CHILDREN = `${ROW}, j.linked, (SELECT array_agg(d.child) FROM {s}.deps d WHERE d.parent = j.id) AS children`;

/** Every queue that has jobs, one index descent each (a loose scan: PostgreSQL has no skip scan). */
const QUEUES_WITH_JOBS = `WITH RECURSIVE r(q) AS (SELECT min(queue) FROM {s}.jobs
  UNION ALL SELECT (SELECT min(queue) FROM {s}.jobs WHERE queue > r.q) FROM r WHERE r.q IS NOT NULL) SELECT q FROM r WHERE q IS NOT NULL`;

/**
 * Jobs in creation order, from the (queue, state, created_seq) index: one ordered range per
 * queue and state, each cut at `limit`, merged. `queues` is SQL yielding a column `q`,
 * `states` a text[] parameter; `where` filters `j` further; `lock` is a FOR UPDATE clause for
 * each range. Yields `seq` (created_seq) and `select` over `j`.
 */
function byCreation(o: { queues: string; states: string; select: string; where: string[]; dir: 'ASC' | 'DESC'; limit: string; lock?: string }): string {
  const where = ['j.queue = x.q', 'j.state = x.s', ...o.where].join(' AND ');
  return `SELECT t.* FROM (SELECT qs.q, st.s FROM (${o.queues}) qs CROSS JOIN unnest(${o.states}) AS st(s)) x
    CROSS JOIN LATERAL (SELECT j.created_seq AS seq, ${o.select} FROM {s}.jobs j WHERE ${where}
      ORDER BY j.created_seq ${o.dir} LIMIT ${o.limit}${o.lock ?? ''}) t
    ORDER BY t.seq ${o.dir} LIMIT ${o.limit}`;
}

/**
 * Waiting jobs past their latest start ($3: now), in the terms of the partial index
 * jobs_start_by, so that index (nearly always empty) is the one used: asked per queue, the
 * planner preferred walking the queue's ready jobs (measured: 3.6 of a claim's 5.4 ms at a
 * depth of 20,000). Callers narrow it to their queue and state afterwards.
 */
const LATE = `start_by <= $3 AND start_by IS NOT NULL AND state IN ('pending', 'scheduled', 'deferred', 'queued')`;

/** Parses int8 as a JS number (times and sequence numbers stay far below 2^53). */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * A statement PostgreSQL parses and plans once per connection (a named prepared statement,
 * named after its text). The hot statements run thousands of times with the same text;
 * parsing and planning each time cost more server CPU than running them.
 */
const statementNames = new Map<string, string>();
function prepared(text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    // The same few texts come again and again: hash each once (a SHA-1 per call was ~5 µs of an add).
    if (statementNames.size >= 10_000) statementNames.clear();
    name = `cv_${createHash('sha1').update(text).digest('base64url').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** Pooled connections that carry their own error listener (see checkout()). */
const guarded = new WeakSet<pg.PoolClient>();

/** What one transaction hands out after it commits. */
interface Pending {
  events: JobEvent[];
  woken: Set<string>;
  due: Map<string, number>;
}

/** The part of a pg client a transaction needs: the store's pooled client or the caller's. */
type Queryable = Pick<pg.ClientBase, 'query'>;

/** Redacts the password of a postgres:// URL for messages and health reports. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

export class PostgresStore implements Store {
  readonly kind = 'postgres';
  readonly location: string;
  readonly clock: Clock;
  readonly schema: string;
  private readonly s: string;
  private readonly pool: pg.Pool;
  private readonly feed: ListenFeed;
  private readonly origin: string;
  /** Queues known to have a row (rows are never deleted). */
  private readonly queuesKnown = new Set<string>();
  private closed = false;

  private constructor(url: string, pool: pg.Pool, feed: ListenFeed, schema: string, clock: Clock, origin: string) {
    this.origin = origin;
    this.location = `${redactUrl(url)} (schema ${schema})`;
    this.pool = pool;
    this.feed = feed;
    this.schema = schema;
    this.s = `"${schema}"`;
    this.clock = clock;
  }

  static async connect(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    if (typeof url !== 'string' || !/^postgres(ql)?:\/\//i.test(url)) throw new ValidationError('the PostgreSQL store needs a postgres:// URL', 'postgres');
    const schema = checkSchemaName(options.schema ?? 'conveyor');
    const poolSize = options.poolSize ?? 10;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) throw new ValidationError('poolSize must be an integer from 1 to 1000', 'poolSize');
    const connection: pg.ClientConfig = { connectionString: url, types: TYPES, connectionTimeoutMillis: 10_000, application_name: 'conveyor' };
    // Plans must not depend on fresh statistics. A queue filled with a million jobs faster
    // than autovacuum analyzes it looked nearly empty to the planner, which then read every
    // ready job of the queue and sorted them for each claim of 50 (measured: 68 jobs/s with
    // 1,000,000 queued) instead of walking the ready-jobs index in order. Every ordered read
    // here has an index that gives its order, so sorting is only the planner's last resort.
    // A startup parameter, not a SET on connect: that raced the pool's first query on the
    // new connection (pg warns, and pg 9 will refuse overlapping queries).
    // And no JIT: a sort the planner must still do costs 10^10 with enable_sort off, which
    // crosses jit_above_cost, and compiling a statement of a few rows took ~300 ms (measured).
    const pool = new pg.Pool({ ...connection, options: '-c enable_sort=off -c jit=off', max: poolSize, idleTimeoutMillis: 30_000 });
    // An idle connection that breaks (a server restart) is dropped; the next query opens another.
    pool.on('error', () => undefined);
    const clock = options.clock ?? systemClock;
    try {
      const client = await pool.connect();
      try {
        // A pooler that dropped the startup options (PgBouncer's ignore_startup_parameters)
        // would leave the planner free to sort whole queues: refuse rather than run slow.
        const sort = (await client.query('SHOW enable_sort')).rows[0] as { enable_sort: string };
        if (sort.enable_sort !== 'off') {
          throw new ValidationError(`PostgreSQL at ${redactUrl(url)} did not get Conveyor's session settings (enable_sort=off, jit=off): a connection pooler dropped them. ${POOLER_ADVICE}`, 'postgres');
        }
        if (options.migrate === false) await requireVersion(client, schema);
        else await migrate(client, schema);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof ConnectionError || err instanceof ValidationError) throw err;
      if (/unsupported startup parameter/i.test((err as Error).message)) {
        throw new ValidationError(`a connection pooler in front of PostgreSQL at ${redactUrl(url)} refused Conveyor's session settings (${(err as Error).message}). ${POOLER_ADVICE}`, 'postgres');
      }
      throw new ConnectionError(`cannot open PostgreSQL store at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    const origin = randomUUID();
    const feed = new ListenFeed({ connection, schema, origin, clock, query: (text, values) => pool.query(text, values) });
    const store = new PostgresStore(url, pool, feed, schema, clock, origin);
    let hears: boolean;
    try {
      await feed.start();
      // Generous: on a direct connection the notification arrives in about a millisecond.
      hears = await feed.hearsNotifications(5_000);
    } catch (err) {
      await store.close().catch(() => undefined);
      throw new ConnectionError(`cannot listen on PostgreSQL at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    if (!hears) {
      await store.close().catch(() => undefined);
      throw new ValidationError(`the LISTEN connection to PostgreSQL at ${redactUrl(url)} hears no notifications, so idle workers would never be woken: a pooler in transaction mode? ${POOLER_ADVICE}`, 'postgres');
    }
    return store;
  }

  // ----- plumbing -----------------------------------------------------------------------

  /** SQL with {s} standing for the quoted schema. */
  private sql(text: string): string {
    return text.replaceAll('{s}', this.s);
  }

  private connectionError(err: unknown): ConnectionError {
    return err instanceof ConnectionError ? err : new ConnectionError(`PostgreSQL at ${this.location}: ${(err as Error).message}`, { cause: err });
  }

  /** True for errors after which the connection cannot be reused (ours and SQL errors are not). */
  private static broken(err: unknown): boolean {
    if (err instanceof ConveyorError) return false;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || code.startsWith('57P');
    return true;
  }

  /** A statement outside a transaction, on any pooled connection. */
  private async query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new ConnectionError(`PostgreSQL store ${this.location} is closed`);
    try {
      return await this.pool.query<R>(prepared(this.sql(text), values));
    } catch (err) {
      throw PostgresStore.broken(err) ? this.connectionError(err) : err;
    }
  }

  /**
   * A pooled connection. The pool listens for errors of idle connections only: one that
   * breaks while checked out (a server restart mid-transaction) would crash the process
   * with an unhandled 'error' event. Its query fails anyway; that is what reports it.
   */
  private async checkout(): Promise<pg.PoolClient> {
    const c = await this.pool.connect();
    if (!guarded.has(c)) {
      guarded.add(c);
      c.on('error', () => undefined);
    }
    return c;
  }

  /**
   * Runs fn in a transaction and, once it committed, hands its events to this process's
   * subscribers and wakes its waiters. A transaction that lost a race runs again.
   */
  private async tx<T>(fn: (c: pg.PoolClient, pending: Pending) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new ConnectionError(`PostgreSQL store ${this.location} is closed`);
      let c: pg.PoolClient;
      try {
        c = await this.checkout();
      } catch (err) {
        throw this.connectionError(err);
      }
      const pending: Pending = { events: [], woken: new Set(), due: new Map() };
      let out: T;
      try {
        await c.query('BEGIN');
        out = await fn(c, pending);
        await c.query('COMMIT');
      } catch (err) {
        const broken = PostgresStore.broken(err);
        if (!broken) await c.query('ROLLBACK').catch(() => undefined);
        c.release(broken ? (err as Error) : undefined);
        if (RACES.has((err as { code?: string }).code ?? '') && attempt < RACE_RETRIES) continue;
        throw broken ? this.connectionError(err) : err;
      }
      c.release();
      this.deliver(pending);
      return out;
    }
  }

  private deliver(p: Pending): void {
    for (const q of p.woken) this.feed.waiters.notify(q);
    for (const [q, at] of p.due) this.feed.waiters.notifyAt(q, at);
    for (const e of p.events) this.feed.deliver(e);
  }

  /**
   * Runs a machine operation over a snapshot, fetching what it misses, then writes its
   * changes in one statement and records what to hand out after the commit.
   */
  private async run<T>(c: Queryable, pending: Pending, snap: Snapshot, op: (m: JobMachine) => T, origin = this.origin): Promise<T> {
    const machine = new JobMachine(snap);
    for (let round = 0; ; round++) {
      snap.begin();
      let out: T;
      try {
        out = op(machine);
      } catch (err) {
        if (!(err instanceof Missing) || round > 1000) throw err;
        await this.fetch(c, snap, err.needs);
        continue;
      }
      const st = flushStatement(this.schema, snap, origin, Date.now());
      if (st) await c.query(prepared(st.text, st.values));
      pending.events.push(...snap.events);
      for (const q of snap.woken) pending.woken.add(q);
      for (const [q, at] of snap.due) if (!pending.due.has(q) || at < pending.due.get(q)!) pending.due.set(q, at);
      return out;
    }
  }

  /** Fetches (and locks, for jobs) what a run missed, in one statement where it can. */
  private async fetch(c: Queryable, snap: Snapshot, needs: Needs): Promise<void> {
    const ids = [...needs.jobs].filter(storable);
    // Ids PostgreSQL cannot hold are not stored jobs: fetched, as missing, without a query.
    snap.absorb([], [...needs.jobs].filter((id) => !storable(id)));
    const queues = [...needs.queues];
    const parents = [...needs.parents];
    if (ids.length > 0 || queues.length > 0 || parents.length > 0) {
      const r = await c.query(prepared(
        this.sql(`SELECT
          (SELECT COALESCE(json_agg(r), '[]') FROM (SELECT ${ROW_WITH_CHILDREN} FROM {s}.jobs j WHERE j.id = ANY($1::text[]) ORDER BY j.id FOR UPDATE OF j) r) AS jobs,
          (SELECT COALESCE(json_agg(json_build_array(name, config)), '[]') FROM {s}.queues WHERE name = ANY($2::text[])) AS queues,
          (SELECT COALESCE(json_agg(json_build_array(parent, kids)), '[]') FROM (SELECT parent, array_agg(child) AS kids FROM {s}.deps WHERE parent = ANY($3::text[]) GROUP BY parent) d) AS parents`),
        [ids, queues, parents],
      ));
      const row = r.rows[0] as { jobs: PgRow[]; queues: [string, object][]; parents: [string, string[]][] };
      snap.absorb(row.jobs, ids);
      const configs = new Map(row.queues);
      for (const q of queues) snap.absorbConfig(q, configs.get(q) ?? null);
      const kids = new Map(row.parents);
      for (const p of parents) snap.absorbChildren(p, kids.get(p) ?? []);
    }
    for (const key of needs.unfinished) {
      const [queue, name] = key.split('\u0000');
      const r = await c.query(
        this.sql(`SELECT count(*)::int AS n FROM {s}.jobs WHERE queue = $1 AND state = ANY($2::text[])${name ? ' AND name = $3' : ''}`),
        [queue, UNFINISHED_STATES, ...(name ? [name] : [])],
      );
      snap.absorbUnfinished(key, r.rows[0].n as number);
    }
    for (const [key, n] of needs.oldest) {
      const [queue, name] = key.split('\u0000');
      const r = await c.query(
        this.sql(byCreation({ queues: 'SELECT $1::text AS q', states: '$2::text[]', select: 'j.id', where: name ? ['j.name = $4'] : [], dir: 'ASC', limit: '$3' })),
        [queue, WAITING_STATES, n, ...(name ? [name] : [])],
      );
      snap.absorbOldest(key, r.rows.map((x) => x.id as string), r.rows.length < n);
    }
  }

  /** A snapshot with these jobs (locked) and queues' settings fetched. */
  private async snapshot(c: Queryable, ids: string[], queues: string[] = []): Promise<Snapshot> {
    const snap = new Snapshot();
    const needs: Needs = { jobs: new Set(ids), parents: new Set(), queues: new Set(queues), unfinished: new Set(), oldest: new Map() };
    await this.fetch(c, snap, needs);
    return snap;
  }

  private toJob(row: PgRow): Job {
    const job = decodeDoc(row.doc, row);
    job.data = JSON.parse(row.data);
    job.logCount = row.log_count;
    return job;
  }

  // ----- writes -------------------------------------------------------------------------

  async enqueue(jobs: NewJob[], options: EnqueueOptions = {}): Promise<EnqueueResult[]> {
    if (jobs.length === 0) return [];
    if (options.tx !== undefined) {
      const tx = options.tx as Queryable;
      if (tx === null || typeof tx !== 'object' || typeof tx.query !== 'function') {
        throw new ValidationError('tx must be a pg client (or pool client) inside your BEGIN … COMMIT', 'tx');
      }
      // The caller commits: its notifications (origin '') reach every store, this one included.
      const inTx = (batch: NewJob[]) => this.enqueueOn(tx, { events: [], woken: new Set(), due: new Map() }, batch, '');
      const fast = await this.addOptimistic(tx, jobs, '', inTx);
      return fast?.results ?? inTx(jobs);
    }
    if (this.closed) throw new ConnectionError(`PostgreSQL store ${this.location} is closed`);
    let fast: Awaited<ReturnType<PostgresStore['addOptimistic']>>;
    try {
      fast = await this.addOptimistic(this.pool, jobs, this.origin, (batch) => this.tx((c, pending) => this.enqueueOn(c, pending, batch, this.origin)));
    } catch (err) {
      throw PostgresStore.broken(err) ? this.connectionError(err) : err;
    }
    if (fast) {
      this.deliver(fast.pending);
      return fast.results;
    }
    return this.tx((c, pending) => this.enqueueOn(c, pending, jobs, this.origin));
  }

  /**
   * The common add in one statement, outside a transaction of its own: new jobs without
   * dependencies, decided by the state machine as if no id existed and no queue had limits,
   * written by a statement that checks both (./flush.ts optimisticAddStatement). Null when
   * the batch does not qualify or a queue has limits: then the transactional path runs.
   */
  private async addOptimistic(
    c: Queryable,
    jobs: NewJob[],
    origin: string,
    redo: (jobs: NewJob[]) => Promise<EnqueueResult[]>,
  ): Promise<{ results: EnqueueResult[]; pending: Pending } | null> {
    const ids = jobs.map((j) => j.id);
    if (jobs.some((j) => j.dependsOn.length > 0 || j.dedupeBy !== null || j.debounceBy !== null) || new Set(ids).size !== ids.length) return null;
    const queues = [...new Set(jobs.map((j) => j.queue))];
    const snap = new Snapshot();
    snap.absorb([], ids);
    for (const q of queues) snap.absorbConfig(q, null);
    snap.begin();
    const view = { exists: () => false, config: (q: string) => snap.config(q), unfinished: () => 0, oldestWaiting: () => [] };
    const results = new JobMachine(snap).enqueue(jobs, this.clock.now(), view, () => undefined);
    const newQueues = queues.filter((q) => !this.queuesKnown.has(q));
    const st = optimisticAddStatement(this.schema, snap, origin, Date.now(), newQueues, JSON.stringify(DEFAULT_QUEUE_CONFIG));
    const r = await c.query(prepared(st.text, st.values));
    const row = r.rows[0] as { ok: boolean; inserted: string[] | null };
    if (!row.ok) return null;
    for (const q of newQueues) this.queuesKnown.add(q);
    const pending: Pending = { events: snap.events, woken: snap.woken, due: snap.due };
    if (row.inserted === null) return { results, pending };
    // Some ids existed (duplicates): answer with their state; announce only the rows written.
    const written = new Set(row.inserted);
    const note = new Snapshot();
    note.begin();
    note.events = snap.events.filter((e) => e.jobId !== undefined && written.has(e.jobId));
    for (const w of snap.written.values()) {
      if (!written.has(w.job.id)) continue;
      if (w.job.state === 'queued') note.woken.add(w.job.queue);
      else if (w.job.state === 'scheduled' && w.job.runAt !== null) note.due.set(w.job.queue, Math.min(w.job.runAt, note.due.get(w.job.queue) ?? Infinity));
    }
    const announce = flushStatement(this.schema, note, origin, Date.now());
    if (announce) await c.query(prepared(announce.text, announce.values));
    const skipped = ids.filter((id) => !written.has(id));
    const states = new Map(
      ((await c.query(this.sql('SELECT id, state FROM {s}.jobs WHERE id = ANY($1::text[])'), [skipped])).rows as { id: string; state: JobState }[]).map((x) => [x.id, x.state]),
    );
    // A duplicate removed in the meantime is added after all, by the transactional path.
    const gone = jobs.filter((j) => !written.has(j.id) && !states.has(j.id));
    const redone = new Map((gone.length > 0 ? await redo(gone) : []).map((x) => [x.id, x]));
    return {
      results: results.map((res) => (written.has(res.id) ? res : (redone.get(res.id) ?? { id: res.id, state: states.get(res.id)!, duplicate: true }))),
      pending: { events: note.events, woken: note.woken, due: note.due },
    };
  }

  private async enqueueOn(c: Queryable, pending: Pending, jobs: NewJob[], origin: string): Promise<EnqueueResult[]> {
    const queues = [...new Set(jobs.map((j) => j.queue))];
    const unknown = queues.filter((q) => !this.queuesKnown.has(q));
    if (unknown.length > 0) {
      await c.query(this.sql('INSERT INTO {s}.queues (name, config) SELECT unnest($1::text[]), $2::jsonb ON CONFLICT (name) DO NOTHING'), [unknown, JSON.stringify(DEFAULT_QUEUE_CONFIG)]);
    }
    const ids = new Set<string>();
    for (const j of jobs) {
      ids.add(j.id);
      for (const d of j.dependsOn) ids.add(d);
    }
    let snap = await this.snapshot(c, [...ids], queues);
    // Size limits are checked against counts: adds to a limited queue take turns on its row.
    const limited = queues.filter((q) => {
      const cfg = snap.config(q);
      return cfg.maxSize !== null || Object.keys(cfg.typeLimits).length > 0;
    });
    if (limited.length > 0) {
      await c.query(this.sql('SELECT 1 FROM {s}.queues WHERE name = ANY($1::text[]) ORDER BY name FOR UPDATE'), [limited]);
      snap = await this.snapshot(c, [...ids], queues);
    }
    const now = this.clock.now();
    const view = {
      exists: (id: string) => snap.stateOf(id) !== undefined,
      config: (queue: string) => snap.config(queue),
      unfinished: (queue: string, name?: string) => snap.unfinished(queue, name),
      oldestWaiting: (queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>) => snap.oldestWaiting(queue, name, n, skip),
    };
    const keyed = jobs.filter((j) => j.dedupeBy !== null || j.debounceBy !== null);
    if (keyed.length === 0) {
      const out = await this.run(c, pending, snap, (m) => m.enqueue(jobs, now, view, (id) => snap.before(id)), origin);
      for (const q of unknown) this.queuesKnown.add(q);
      return out;
    }
    const plan = planDedupe(jobs, now, ...(await this.dedupeEntries(c, keyed)));
    // The jobs a debounced add lands on (locked by dedupeEntries): loaded for the state machine.
    if (plan.push.length > 0) snap = await this.snapshot(c, [...ids, ...plan.push.map((x) => x.id)], queues);
    const added = await this.run(c, pending, snap, (m) => {
      const out = m.enqueue(plan.fresh, now, view, (id) => snap.before(id));
      for (const x of plan.push) m.debounce(x.id, x.dataJson, x.runAt, now);
      return out;
    }, origin);
    const settled = settleDedupe(jobs.length, plan, added);
    if (settled.take.length > 0) {
      const col = <T>(f: (t: (typeof settled.take)[number]) => T) => settled.take.map(f);
      await c.query(
        this.sql(`INSERT INTO {s}.dedupe (queue, key, id, until) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[])
          ON CONFLICT (queue, key) DO UPDATE SET id = excluded.id, until = excluded.until`),
        [col((t) => t.queue), col((t) => t.key), col((t) => t.entry.id), col((t) => t.entry.until)],
      );
    }
    for (const q of unknown) this.queuesKnown.add(q);
    return settled.results;
  }

  /**
   * The dedupe keys a batch names, locked for this transaction (advisory locks taken in one
   * order, so two adds of the same key take turns and two batches cannot deadlock), with
   * the entries and their jobs' states as lookups for planDedupe.
   */
  private async dedupeEntries(c: Queryable, keyed: NewJob[]): Promise<[(queue: string, key: string) => DedupeEntry | null, (id: string) => JobState | undefined]> {
    const queues = keyed.map((j) => j.queue);
    const keys = keyed.map((j) => (j.dedupeBy ? j.dedupeBy.key : debounceSlot(j.debounceBy!.key)));
    await c.query(
      this.sql(`SELECT count(pg_advisory_xact_lock(h)) FROM (SELECT DISTINCT hashtextextended($1 || length(q) || ':' || q || k, 0) AS h FROM unnest($2::text[], $3::text[]) AS u(q, k) ORDER BY h) x`),
      [`${this.schema}.dedupe.`, queues, keys],
    );
    const r = await c.query(
      this.sql(`SELECT d.queue, d.key, d.id, d.until::float8 AS until FROM {s}.dedupe d
        WHERE (d.queue, d.key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`),
      [queues, keys],
    );
    const rows = r.rows as { queue: string; key: string; id: string; until: number | null }[];
    const entries = new Map(rows.map((x) => [`${x.queue}\u0000${x.key}`, { id: x.id, until: x.until }]));
    // The jobs the keys point to, locked: their states cannot change (come due, start) before
    // this transaction has decided on them.
    const locked = await c.query(this.sql('SELECT id, state FROM {s}.jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE'), [rows.map((x) => x.id)]);
    const states = new Map((locked.rows as { id: string; state: JobState }[]).map((x) => [x.id, x.state]));
    return [(queue, key) => entries.get(`${queue}\u0000${key}`) ?? null, (id) => states.get(id)];
  }

  async claim(req: ClaimRequest): Promise<ClaimedJob[]> {
    if (req.limit <= 0 || req.queues.length === 0) return [];
    const out: ClaimedJob[] = [];
    for (const queue of req.queues) {
      const limit = req.limit - out.length;
      if (limit <= 0) break;
      const fast = await this.claimOptimistic(queue, req, limit);
      out.push(...(fast ?? (await this.claimInTx({ ...req, queues: [queue], limit }))));
    }
    return out;
  }

  /**
   * The common claim in one statement, outside a transaction of its own: a queue without
   * pause or limits, with nothing due or past its latest start, leases its next jobs
   * (announcing them to stores that want 'active' events). Null when the queue is not such a
   * queue right now: then the transactional claim runs, which handles every case.
   */
  private async claimOptimistic(queue: string, req: ClaimRequest, n: number): Promise<ClaimedJob[] | null> {
    const now = this.clock.now();
    const until = now + req.leaseMs;
    const names = req.names && req.names.length > 0 ? req.names : null;
    const r = await this.query<PgRow & { ok: boolean; ready_seq: number }>(
      `WITH g AS (SELECT EXISTS (SELECT 1 FROM {s}.queues WHERE name = $1 AND NOT COALESCE((config->>'paused')::boolean, false)
            AND jsonb_typeof(config->'concurrency') IS DISTINCT FROM 'number' AND jsonb_typeof(config->'groupConcurrency') IS DISTINCT FROM 'number'
            AND jsonb_typeof(config->'rateLimit') IS DISTINCT FROM 'object' AND jsonb_typeof(config->'groupRateLimit') IS DISTINCT FROM 'object')
          AND NOT EXISTS (SELECT 1 FROM {s}.jobs WHERE state = 'scheduled' AND queue = $1 AND run_at <= $3)
          AND NOT EXISTS (SELECT 1 FROM {s}.jobs WHERE ${LATE}) AS ok),
        next AS MATERIALIZED (SELECT id FROM {s}.jobs WHERE queue = $1 AND state = 'queued'${names ? ' AND name = ANY($9::text[])' : ''} AND (SELECT ok FROM g)
          ORDER BY priority DESC, ready_seq LIMIT $2 FOR UPDATE SKIP LOCKED),
        upd AS (UPDATE {s}.jobs j SET state = 'active', token = gen_random_uuid()::text, lease_until = $4,
            doc = (j.doc - 'progress' - 'message') || jsonb_build_object('attempt', COALESCE((j.doc->>'attempt')::int, 0) + 1, 'startedAt', $3::int8, 'workerId', $5::text, 'leaseUntil', $4::int8)
          FROM next WHERE j.id = next.id RETURNING ${ROW}, j.ready_seq),
        nt AS (SELECT count(pg_notify($6, $7 || ' ' || body)) AS sent FROM (
            SELECT json_agg(json_build_object('type', 'active', 'queue', $1::text, 'jobId', id, 'at', $3::int8, 'state', 'active'))::text AS body
            FROM (SELECT id, (row_number() OVER () - 1) / 40 AS grp FROM upd) x GROUP BY grp) y
          WHERE EXISTS (SELECT 1 FROM {s}.listeners WHERE origin <> $7 AND until > $8 AND (types IS NULL OR 'active' = ANY(types))))
      SELECT (SELECT ok FROM g) AS ok, nt.sent, upd.* FROM nt LEFT JOIN upd ON true`,
      [queue, n, now, until, req.workerId, `${this.schema}.events`, this.origin, Date.now(), ...(names ? [names] : [])],
    );
    if (!r.rows[0]?.ok) return null;
    const rows = r.rows.filter((x) => x.id !== null);
    rows.sort((a, b) => b.priority - a.priority || a.ready_seq - b.ready_seq);
    const jobs = rows.map((row) => ({ ...this.toJob(row), token: row.token! }));
    this.deliver({ events: jobs.map((j) => ({ type: 'active', queue, jobId: j.id, at: now, state: 'active' })), woken: new Set(), due: new Map() });
    return jobs;
  }

  /** The claim that handles every case, in one transaction. */
  private async claimInTx(req: ClaimRequest): Promise<ClaimedJob[]> {
    return this.tx(async (c, pending) => {
      const now = this.clock.now();
      // One statement: the queues' settings, this queue's jobs that came due or are past
      // their latest start (locked; those another transaction holds are skipped), and
      // whether any other store wants 'active' events.
      const pre = await c.query(prepared(
        this.sql(`SELECT
          (SELECT COALESCE(json_agg(json_build_array(name, config)), '[]') FROM {s}.queues WHERE name = ANY($1::text[])) AS queues,
          (SELECT COALESCE(json_agg(r), '[]') FROM (SELECT ${ROW_WITH_CHILDREN} FROM {s}.jobs j
             WHERE j.state = 'scheduled' AND j.queue = ANY($1::text[]) AND j.run_at <= $2
             ORDER BY j.queue, j.run_at LIMIT ${MAINTAIN_BATCH} FOR UPDATE OF j SKIP LOCKED) r) AS due,
          (SELECT COALESCE(json_agg(r), '[]') FROM (SELECT ${ROW_WITH_CHILDREN} FROM {s}.jobs j
             WHERE j.id IN (SELECT id FROM {s}.jobs WHERE ${LATE.replaceAll('$3', '$2')} OFFSET 0) AND j.state = 'queued' AND j.queue = ANY($1::text[])
             LIMIT ${MAINTAIN_BATCH} FOR UPDATE OF j SKIP LOCKED) r) AS late,
          EXISTS (SELECT 1 FROM {s}.listeners WHERE origin <> $3 AND until > $4 AND (types IS NULL OR 'active' = ANY(types))) AS listened`),
        [req.queues, now, this.origin, Date.now()],
      ));
      const first = pre.rows[0] as { queues: [string, object][]; due: PgRow[]; late: PgRow[]; listened: boolean };
      const stored = new Map(first.queues);
      if (first.due.length > 0 || first.late.length > 0) {
        const snap = new Snapshot();
        snap.absorb([...first.due, ...first.late]);
        for (const q of req.queues) snap.absorbConfig(q, stored.get(q) ?? null);
        await this.run(c, pending, snap, (m) => {
          for (const r of first.due) {
            const job = snap.load(r.id);
            if (job?.state === 'scheduled') m.due(job, now);
          }
          // Ready jobs past their latest start (those just due included) end canceled
          // ("expired"), never claimed.
          const late = [...first.late, ...first.due.filter((r) => r.start_by !== null && r.start_by <= now)];
          if (late.length > 0) m.cancel(late.map((r) => r.id), EXPIRED, now);
        });
      }
      const out: ClaimedJob[] = [];
      const names = req.names && req.names.length > 0 ? req.names : null;
      for (const queue of req.queues) {
        if (out.length >= req.limit) break;
        const raw = stored.get(queue);
        if (!raw) continue;
        const cfg: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, ...(raw as QueueConfig) };
        if (cfg.paused) continue;
        let budget = req.limit - out.length;
        const limited = cfg.concurrency !== null || cfg.rateLimit !== null || cfg.groupConcurrency !== null || cfg.groupRateLimit !== null;
        let rateStart = 0;
        let rateCount = 0;
        if (limited) {
          // Limits count what other workers hold: claims on a limited queue take turns on its row.
          const q = await c.query(
            this.sql(`SELECT rate_start, rate_count, (SELECT count(*)::int FROM {s}.jobs WHERE queue = $1 AND state = 'active') AS active FROM {s}.queues WHERE name = $1 FOR UPDATE`),
            [queue],
          );
          const row = q.rows[0] as { rate_start: number; rate_count: number; active: number };
          if (cfg.concurrency !== null) budget = Math.min(budget, cfg.concurrency - row.active);
          rateStart = row.rate_start;
          rateCount = row.rate_count;
          if (cfg.rateLimit) {
            const w = queueWindow({ start: rateStart, count: rateCount }, cfg.rateLimit, now);
            rateStart = w.window.start;
            rateCount = w.window.count;
            budget = Math.min(budget, w.room);
            if (w.fullUntil !== null) this.feed.waiters.notifyAt(queue, w.fullUntil);
          }
        }
        if (budget <= 0) continue;
        const plain = cfg.groupConcurrency === null && cfg.groupRateLimit === null;
        const claimed = plain ? await this.claimPlain(c, queue, names, budget, req, now) : await this.claimGrouped(c, pending, queue, names, budget, cfg, req, now);
        for (const job of claimed) {
          out.push(job);
          if (plain) pending.events.push({ type: 'active', queue, jobId: job.id, at: now, state: 'active' });
        }
        if (cfg.rateLimit) {
          await c.query(this.sql('UPDATE {s}.queues SET rate_start = $2, rate_count = $3 WHERE name = $1'), [queue, rateStart, rateCount + claimed.length]);
        }
      }
      if (first.listened && out.length > 0) {
        const values: unknown[] = [];
        const p = (v: unknown, type: string) => {
          values.push(v);
          return `$${values.length}::${type}`;
        };
        const chunks = notifications(this.origin, pending.events.filter((e) => e.type === 'active'), [], new Map()).events;
        await c.query(`SELECT ${eventsNotify(this.s, `${this.schema}.events`, p, chunks, this.origin, Date.now())}`, values);
      }
      return out;
    });
  }

  /** The common case in one statement: lease the next `n` ready jobs of a queue. */
  private async claimPlain(c: Queryable, queue: string, names: string[] | null, n: number, req: ClaimRequest, now: number): Promise<ClaimedJob[]> {
    const until = now + req.leaseMs;
    const r = await c.query(prepared(
      this.sql(`WITH next AS MATERIALIZED (
          SELECT id FROM {s}.jobs WHERE queue = $1 AND state = 'queued'${names ? ' AND name = ANY($6::text[])' : ''}
          ORDER BY priority DESC, ready_seq LIMIT $2 FOR UPDATE SKIP LOCKED)
        UPDATE {s}.jobs j SET state = 'active', token = gen_random_uuid()::text, lease_until = $4,
          doc = (j.doc - 'progress' - 'message') || jsonb_build_object('attempt', COALESCE((j.doc->>'attempt')::int, 0) + 1, 'startedAt', $3::int8, 'workerId', $5::text, 'leaseUntil', $4::int8)
        FROM next WHERE j.id = next.id
        RETURNING ${ROW}, j.ready_seq`),
      [queue, n, now, until, req.workerId, ...(names ? [names] : [])],
    ));
    const rows = r.rows as (PgRow & { ready_seq: number })[];
    rows.sort((a, b) => b.priority - a.priority || a.ready_seq - b.ready_seq);
    return rows.map((row) => ({ ...this.toJob(row), token: row.token! }));
  }

  /**
   * Queues with group limits: each candidate is checked against its group's active count
   * (groupConcurrency) and its group's rate window (groupRateLimit). The queue's row is
   * locked by the caller, so claims on it take turns and the counts hold.
   */
  private async claimGrouped(
    c: Queryable,
    pending: Pending,
    queue: string,
    names: string[] | null,
    n: number,
    cfg: QueueConfig,
    req: ClaimRequest,
    now: number,
  ): Promise<ClaimedJob[]> {
    const perGroup = cfg.groupConcurrency;
    const rate = cfg.groupRateLimit;
    const cand = await c.query(
      this.sql(`SELECT ${ROW_WITH_CHILDREN}, j.group_key FROM {s}.jobs j WHERE j.queue = $1 AND j.state = 'queued'${names ? ' AND j.name = ANY($3::text[])' : ''}
        ORDER BY j.priority DESC, j.ready_seq LIMIT $2 FOR UPDATE OF j SKIP LOCKED`),
      [queue, n + 1000, ...(names ? [names] : [])],
    );
    const rows = cand.rows as (PgRow & { group_key: string | null })[];
    const keys = [...new Set(rows.map((r) => r.group_key).filter((k): k is string => k !== null))];
    const active = new Map<string, number>();
    if (keys.length > 0 && perGroup !== null) {
      const a = await c.query(this.sql(`SELECT group_key, count(*)::int AS n FROM {s}.jobs WHERE queue = $1 AND state = 'active' AND group_key = ANY($2::text[]) GROUP BY group_key`), [queue, keys]);
      for (const r of a.rows as { group_key: string; n: number }[]) active.set(r.group_key, r.n);
    }
    const windows = new Map<string, RateWindow>();
    if (keys.length > 0 && rate !== null) {
      const w = await c.query(this.sql('SELECT grp, start::float8 AS start, count FROM {s}.group_rates WHERE queue = $1 AND grp = ANY($2::text[])'), [queue, keys]);
      for (const r of w.rows as { grp: string; start: number; count: number }[]) windows.set(r.grp, { start: r.start, count: r.count });
    }
    const chosen: PgRow[] = [];
    const counted = new Set<string>();
    for (const r of rows) {
      if (chosen.length >= n) break;
      if (r.group_key !== null) {
        const held = active.get(r.group_key) ?? 0;
        if (perGroup !== null && held >= perGroup) continue;
        if (rate !== null) {
          const w = openWindow(windows.get(r.group_key), rate, now);
          windows.set(r.group_key, w);
          if (w.count >= rate.max) {
            this.feed.waiters.notifyAt(queue, w.start + rate.durationMs);
            continue;
          }
          w.count++;
          counted.add(r.group_key);
        }
        active.set(r.group_key, held + 1);
      }
      chosen.push(r);
    }
    if (counted.size > 0) {
      const groups = [...counted];
      await c.query(
        this.sql(`INSERT INTO {s}.group_rates AS g (queue, grp, start, count) SELECT $1, * FROM unnest($2::text[], $3::int8[], $4::int[])
          ON CONFLICT (queue, grp) DO UPDATE SET start = excluded.start, count = excluded.count`),
        [queue, groups, groups.map((g) => windows.get(g)!.start), groups.map((g) => windows.get(g)!.count)],
      );
    }
    if (chosen.length === 0) return [];
    const snap = new Snapshot();
    snap.absorb(chosen);
    const tokens = new Map(chosen.map((r) => [r.id, randomUUID()]));
    return this.run(c, pending, snap, (m) =>
      chosen.map((r) => {
        const job = snap.load(r.id)!;
        const token = tokens.get(r.id)!;
        startAttempt(job, req.workerId, now, req.leaseMs);
        m.move(job, 'active', now, token);
        snap.emit({ type: 'active', queue, jobId: r.id, at: now, state: 'active' });
        return { ...job, data: JSON.parse(r.data), token };
      }),
    );
  }

  async extend(leases: Lease[], leaseMs: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const until = this.clock.now() + leaseMs;
    const sent = leases.filter((l) => storable(l.id) && storable(l.token));
    const r = await this.query<{ id: string; token: string }>(
      `UPDATE {s}.jobs j SET lease_until = $1, doc = jsonb_set(j.doc, '{leaseUntil}', to_jsonb($1::int8))
       FROM unnest($2::text[], $3::text[]) AS l(id, token) WHERE j.id = l.id AND j.state = 'active' AND j.token = l.token RETURNING j.id, j.token`,
      [until, sent.map((l) => l.id), sent.map((l) => l.token)],
    );
    const kept = new Set(r.rows.map((x) => `${x.id}\u0000${x.token}`));
    return leases.map((l) => kept.has(`${l.id}\u0000${l.token}`));
  }

  /** The two calls in turn: node-postgres sends one query per round trip. */
  finishAndClaim(outcomes: Outcome[], next: ClaimRequest): Promise<FinishAndClaim> {
    return finishThenClaim(this, outcomes, next);
  }

  async finish(outcomes: Outcome[]): Promise<boolean[]> {
    if (outcomes.length === 0) return [];
    // Completions take the one-statement path; what it leaves (failures, jobs with
    // dependents or dedupe keys, a token that no longer holds) takes the transaction.
    const done = new Set(outcomes.some((o) => o.kind === 'completed') ? await this.completeOptimistic(outcomes) : []);
    const out: boolean[] = outcomes.map((o) => o.kind === 'completed' && done.delete(o.id));
    const rest = outcomes.filter((_, i) => !out[i]);
    if (rest.length === 0) return out;
    const general = await this.tx(async (c, pending) => {
      const now = this.clock.now();
      const snap = await this.snapshot(c, rest.map((o) => o.id));
      return this.run(c, pending, snap, (m) => rest.map((o) => m.finish(o, now)));
    });
    let k = 0;
    return out.map((fast) => fast || general[k++]);
  }

  /**
   * Completes, in one statement outside a transaction of its own, the leased jobs among
   * `outcomes` whose completion changes nothing but their own row: no dependents (the
   * `linked` flag covers a link added while this statement waited, see schema.ts), no dedupe
   * or debounce key. Writes what JobMachine.finish writes for them, the minute's tally and the
   * 'completed' events for other stores that want them; returns the ids it completed.
   */
  private async completeOptimistic(outcomes: Outcome[]): Promise<string[]> {
    // An id twice in one call: its first outcome only (the second finds the job completed).
    const seen = new Set<string>();
    const done = outcomes.filter((o) => o.kind === 'completed' && storable(o.id) && storable(o.token) && !seen.has(o.id) && seen.add(o.id));
    if (done.length === 0) return [];
    const now = this.clock.now();
    const ttl = `COALESCE((j.doc->>'resultTtlMs')::int8, (SELECT (config->>'resultTtlMs')::int8 FROM {s}.queues WHERE name = j.queue))`;
    const r = await this.query<{ id: string; queue: string }>(
      `WITH o AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS o(id, token, result)),
        upd AS (UPDATE {s}.jobs j SET state = 'completed', lease_until = NULL, token = NULL, finished_at = $4, expires_at = $4 + ${ttl},
            doc = (j.doc - 'leaseUntil' - 'result' - 'expiresAt') || jsonb_build_object('progress', 100, 'finishedAt', $4::int8)
              || CASE WHEN o.result IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('result', o.result::jsonb) END
              || CASE WHEN ${ttl} IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('expiresAt', $4 + ${ttl}) END
          FROM o WHERE j.id = o.id AND j.state = 'active' AND j.token = o.token AND NOT j.linked
            AND NOT (j.doc ? 'dedupeKey') AND NOT (j.doc ? 'debounceKey') AND NOT EXISTS (SELECT 1 FROM {s}.deps d WHERE d.parent = j.id)
          RETURNING j.id, j.queue),
        tally AS (INSERT INTO {s}.minutes AS m (queue, at, shard, completed, failed) SELECT queue, $5, $6, count(*), 0 FROM upd GROUP BY queue
          ON CONFLICT (at, queue, shard) DO UPDATE SET completed = m.completed + excluded.completed),
        nt AS (SELECT count(pg_notify($7, $8 || ' ' || body)) AS sent FROM (
            SELECT json_agg(json_build_object('type', 'completed', 'queue', queue, 'jobId', id, 'at', $4::int8, 'state', 'completed'))::text AS body
            FROM (SELECT id, queue, (row_number() OVER () - 1) / 40 AS grp FROM upd) x GROUP BY grp) y
          WHERE EXISTS (SELECT 1 FROM {s}.listeners WHERE origin <> $8 AND until > $9 AND (types IS NULL OR 'completed' = ANY(types))))
      SELECT nt.sent, upd.* FROM nt LEFT JOIN upd ON true`,
      [
        done.map((o) => o.id),
        done.map((o) => o.token),
        done.map((o) => (o.kind === 'completed' && o.result !== undefined && o.result !== null ? storableJson(JSON.stringify(o.result)) : null)),
        now,
        minuteOf(now),
        Math.floor(Math.random() * 16),
        `${this.schema}.events`,
        this.origin,
        Date.now(),
      ],
    ).catch((err: { code?: string }) => {
      // A deadlock with another writer rolled the statement back: the transaction does it all.
      if (RACES.has(err.code ?? '')) return null;
      throw err;
    });
    if (!r) return [];
    const rows = r.rows.filter((x) => x.id !== null);
    this.deliver({ events: rows.map((x) => ({ type: 'completed', queue: x.queue, jobId: x.id, at: now, state: 'completed' })), woken: new Set(), due: new Map() });
    return rows.map((x) => x.id);
  }

  async update(updates: JobUpdate[]): Promise<boolean[]> {
    if (updates.length === 0) return [];
    return this.tx(async (c, pending) => {
      const now = this.clock.now();
      const snap = await this.snapshot(c, updates.map((u) => u.id));
      const logged: { id: string; lines: { stream: string; line: string }[] }[] = [];
      const applied = await this.run(c, pending, snap, () => {
        logged.length = 0;
        return updates.map((u) => {
          const job = snap.load(u.id);
          if (!job || (u.token !== undefined && (job.state !== 'active' || snap.tokenOf(u.id) !== u.token))) return false;
          if (u.progress !== undefined || u.message !== undefined) {
            if (u.progress !== undefined) job.progress = clampProgress(u.progress);
            if (u.message !== undefined) job.message = u.message;
            snap.touch(job);
            snap.emit({ type: 'progress', queue: job.queue, jobId: job.id, at: now, progress: job.progress, message: job.message });
          }
          if (u.logs && u.logs.length > 0) {
            logged.push({ id: job.id, lines: u.logs.map((l) => ({ stream: l.stream, line: storableText(truncateLine(l.line)) })) });
            snap.emit({ type: 'log', queue: job.queue, jobId: job.id, at: now });
          }
          return true;
        });
      });
      for (const { id, lines } of logged) {
        // The row is locked (fetched FOR UPDATE): the numbers are this transaction's to give.
        await c.query(
          this.sql(`WITH top AS (SELECT COALESCE(MAX(seq), 0) AS t FROM {s}.logs WHERE job_id = $1),
            ins AS (INSERT INTO {s}.logs (job_id, seq, at, stream, line) SELECT $1, top.t + l.ord, $2, l.stream, l.line FROM top, unnest($3::text[], $4::text[]) WITH ORDINALITY AS l(stream, line, ord)),
            del AS (DELETE FROM {s}.logs WHERE job_id = $1 AND seq <= (SELECT t FROM top) + $5 - $6)
            UPDATE {s}.jobs SET log_count = LEAST(log_count + $5, $6) WHERE id = $1`),
          [id, now, lines.map((l) => l.stream), lines.map((l) => l.line), lines.length, MAX_LOG_LINES],
        );
      }
      return applied;
    });
  }

  /** Fetches `ids` and runs a machine operation over them in one transaction. */
  private change<T>(ids: string[], op: (m: JobMachine, snap: Snapshot, now: number) => T): Promise<T> {
    return this.tx(async (c, pending) => {
      const snap = await this.snapshot(c, [...new Set(ids)]);
      const now = this.clock.now();
      return this.run(c, pending, snap, (m) => op(m, snap, now));
    });
  }

  async cancel(ids: string[], reason = 'canceled'): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.change(ids, (m, _s, now) => m.cancel(ids, reason, now));
  }

  async remove(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.change(ids, (m, _s, now) => m.each(ids, null, now, (job) => m.remove(job, now)));
  }

  async retry(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.change(ids, (m, _s, now) => m.retry(ids, now));
  }

  async promote(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    return this.change(ids, (m, _s, now) => m.promote(ids, now));
  }

  async clean(req: CleanRequest): Promise<number> {
    const states = [...new Set<JobState>(req.states ?? ['completed', 'failed', 'canceled'])].filter((s) => s !== 'active');
    if (states.length === 0) return 0;
    const cutoff = this.clock.now() - (req.olderThanMs ?? 0);
    let left = req.limit ?? Infinity;
    let total = 0;
    while (left > 0) {
      const n = Math.min(MAINTAIN_BATCH, left);
      const removed = await this.tx(async (c, pending) => {
        const r = await c.query(
          this.sql(
            byCreation({
              queues: 'SELECT $1::text AS q',
              states: '$2::text[]',
              select: ROW_WITH_CHILDREN,
              where: ['COALESCE(j.finished_at, j.created_at) <= $3'],
              dir: 'ASC',
              limit: '$4',
              lock: ' FOR UPDATE OF j SKIP LOCKED',
            }),
          ),
          [req.queue, states, cutoff, n],
        );
        const rows = r.rows as PgRow[];
        if (rows.length === 0) return 0;
        const snap = new Snapshot();
        snap.absorb(rows);
        const now = this.clock.now();
        return this.run(c, pending, snap, (m) => m.each(rows.map((x) => x.id), null, now, (job) => m.remove(job, now)).length);
      });
      total += removed;
      left -= removed;
      if (removed < n) break;
    }
    return total;
  }

  async configureQueue(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig> {
    return this.tx(async (c, pending) => {
      await c.query(this.sql('INSERT INTO {s}.queues (name, config) VALUES ($1, $2::jsonb) ON CONFLICT (name) DO NOTHING'), [queue, JSON.stringify(DEFAULT_QUEUE_CONFIG)]);
      const r = await c.query(this.sql('SELECT config FROM {s}.queues WHERE name = $1 FOR UPDATE'), [queue]);
      const before: QueueConfig = { ...DEFAULT_QUEUE_CONFIG, ...(r.rows[0].config as QueueConfig) };
      const next: QueueConfig = { ...before, ...structuredClone(patch) };
      const now = this.clock.now();
      const events: JobEvent[] = [];
      if (patch.paused !== undefined && patch.paused !== before.paused) events.push({ type: patch.paused ? 'paused' : 'resumed', queue, at: now });
      const wake = patch.paused === false || patch.concurrency !== undefined || patch.rateLimit !== undefined || patch.groupRateLimit !== undefined || patch.groupConcurrency !== undefined;
      const values: unknown[] = [queue, JSON.stringify(next)];
      const p = (v: unknown, type: string) => {
        values.push(v);
        return `$${values.length}::${type}`;
      };
      const notes = notifications(this.origin, events, wake ? [queue] : [], new Map());
      const selects = [
        ...(notes.events.bodies.length > 0 ? [eventsNotify(this.s, `${this.schema}.events`, p, notes.events, this.origin, Date.now())] : []),
        ...(notes.wake.length > 0 ? [`(SELECT count(pg_notify(${p(`${this.schema}.wake`, 'text')}, w)) FROM unnest(${p(notes.wake, 'text[]')}) w)`] : []),
      ];
      await c.query(this.sql(`WITH u AS (UPDATE {s}.queues SET config = $2::jsonb WHERE name = $1) SELECT ${selects.length > 0 ? selects.join(', ') : '1'}`), values);
      pending.events.push(...events);
      if (wake) pending.woken.add(queue);
      this.queuesKnown.add(queue);
      return structuredClone(next);
    });
  }

  // ----- reads --------------------------------------------------------------------------

  async get(id: string): Promise<Job | null> {
    if (!storable(id)) return null;
    const r = await this.query<PgRow>(`SELECT ${ROW} FROM {s}.jobs j WHERE j.id = $1`, [id]);
    return r.rows[0] ? this.toJob(r.rows[0]) : null;
  }

  async list(filter: ListFilter): Promise<JobPage> {
    if ([filter.queue, filter.name, filter.text].some((x) => x !== undefined && !storable(x))) return { jobs: [], next: null };
    const limit = pageLimit(filter.limit);
    const after = decodeCursor(filter.cursor);
    const desc = (filter.order ?? 'desc') === 'desc';
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => {
      args.push(v);
      return `$${args.length}`;
    };
    const queues = filter.queue !== undefined ? `SELECT ${arg(filter.queue)}::text AS q` : QUEUES_WITH_JOBS;
    const states = `${arg(filter.states && filter.states.length > 0 ? filter.states : JOB_STATES)}::text[]`;
    if (filter.name !== undefined) where.push(`j.name = ${arg(filter.name)}`);
    if (filter.text) {
      const t = arg(filter.text.toLowerCase());
      where.push(`(strpos(lower(j.id), ${t}) > 0 OR strpos(lower(j.data), ${t}) > 0)`);
    }
    if (after) where.push(`j.created_seq ${desc ? '<' : '>'} ${arg(after[0])}`);
    const sql = byCreation({ queues, states, select: ROW, where, dir: desc ? 'DESC' : 'ASC', limit: arg(limit + 1) });
    const rows = (await this.query<PgRow & { seq: number }>(sql, args)).rows;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { jobs: page.map((r) => this.toJob(r)), next: rows.length > limit && last ? encodeCursor(last.seq, last.id) : null };
  }

  async logs(id: string, afterSeq = 0, limit = 1000): Promise<LogLine[]> {
    if (!storable(id)) throw new NotFoundError(`job ${id} not found`);
    const r = await this.query<LogLine & { found: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM {s}.jobs WHERE id = $1) AS found, l.seq, l.at, l.stream, l.line
       FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, at, stream, line FROM {s}.logs WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) l ON true`,
      [id, afterSeq, limit],
    );
    if (!r.rows[0]?.found) throw new NotFoundError(`job ${id} not found`);
    return r.rows.filter((x) => x.seq !== null).map((x) => ({ seq: x.seq, at: x.at, stream: x.stream, line: x.line }));
  }

  async counts(queues?: string[]): Promise<Record<string, StateCounts>> {
    const names = queues ?? (await this.query<{ name: string }>('SELECT name FROM {s}.queues ORDER BY name')).rows.map((r) => r.name);
    const out: Record<string, StateCounts> = {};
    for (const name of names) out[name] = emptyCounts();
    if (names.length === 0) return out;
    const r = await this.query<{ queue: string; state: JobState; n: number }>(
      'SELECT queue, state, count(*)::int AS n FROM {s}.jobs WHERE queue = ANY($1::text[]) GROUP BY queue, state',
      [names],
    );
    for (const row of r.rows) out[row.queue][row.state] = row.n;
    return out;
  }

  async queues(): Promise<QueueInfo[]> {
    const rows = (await this.query<{ name: string; config: QueueConfig }>('SELECT name, config FROM {s}.queues ORDER BY name')).rows;
    const counts = await this.counts(rows.map((r) => r.name));
    return rows.map((r) => ({ name: r.name, config: { ...DEFAULT_QUEUE_CONFIG, ...r.config }, counts: counts[r.name] }));
  }

  async queueConfig(queue: string): Promise<QueueConfig> {
    const r = await this.query<{ config: QueueConfig }>('SELECT config FROM {s}.queues WHERE name = $1', [queue]);
    return r.rows[0] ? { ...DEFAULT_QUEUE_CONFIG, ...r.rows[0].config } : defaultQueueConfig();
  }

  // ----- upkeep -------------------------------------------------------------------------

  /** Upkeep in rounds of at most MAINTAIN_BATCH jobs per part, each its own transaction. */
  async maintain(now = this.clock.now()): Promise<MaintainReport> {
    const report: MaintainReport = { promoted: 0, reclaimed: 0, expired: 0 };
    for (let round = 0; round < MAINTAIN_ROUNDS; round++) {
      const r = await this.tx((c, pending) => this.maintainRound(c, pending, now));
      report.promoted += r.promoted;
      report.reclaimed += r.reclaimed;
      report.expired += r.expired;
      if (!r.more) break;
    }
    return report;
  }

  private async maintainRound(c: Queryable, pending: Pending, now: number): Promise<MaintainReport & { more: boolean }> {
    const pick = (where: string) =>
      `(SELECT COALESCE(json_agg(r), '[]') FROM (SELECT ${ROW_WITH_CHILDREN} FROM {s}.jobs j WHERE ${where} LIMIT ${MAINTAIN_BATCH} FOR UPDATE OF j SKIP LOCKED) r)`;
    const r = await c.query(
      this.sql(`SELECT ${pick(LATE.replaceAll('$3', '$1').replaceAll('start_by', 'j.start_by').replaceAll('state', 'j.state'))} AS late,
        ${pick(`j.state = 'scheduled' AND j.run_at <= $1`)} AS due,
        ${pick(`j.state = 'active' AND j.lease_until <= $1`)} AS lapsed,
        ${pick(`j.expires_at <= $1`)} AS expired`),
      [now],
    );
    const found = r.rows[0] as { late: PgRow[]; due: PgRow[]; lapsed: PgRow[]; expired: PgRow[] };
    const snap = new Snapshot();
    for (const part of [found.late, found.due, found.lapsed, found.expired]) snap.absorb(part);
    const report = await this.run(c, pending, snap, (m) => {
      if (found.late.length > 0) m.cancel(found.late.map((x) => x.id), EXPIRED, now);
      let promoted = 0;
      for (const row of found.due) {
        const job = snap.load(row.id);
        if (!job || job.state !== 'scheduled') continue;
        m.due(job, now);
        promoted++;
      }
      let reclaimed = 0;
      for (const row of found.lapsed) {
        const job = snap.load(row.id);
        if (!job || job.state !== 'active') continue;
        if (m.finish(stallOutcome(job, row.token!, now), now)) reclaimed++;
      }
      let expired = 0;
      for (const row of found.expired) {
        const job = snap.load(row.id);
        if (!job || !isFinished(job.state)) continue;
        m.remove(job, now);
        expired++;
      }
      return { promoted, reclaimed, expired };
    });
    await c.query(this.sql('DELETE FROM {s}.workers WHERE until <= $1'), [now]);
    // Real time: registrations measure whether another process is alive, not job time.
    await c.query(this.sql('DELETE FROM {s}.listeners WHERE until <= $1'), [Date.now()]);
    await c.query(this.sql('DELETE FROM {s}.minutes WHERE at < $1'), [historyStart(0, now)]);
    // Dedupe keys that can hold no more (stores/dedupe.ts): gone or finished jobs, past caps.
    await c.query(
      this.sql(`DELETE FROM {s}.dedupe d WHERE CASE WHEN d.until IS NOT NULL THEN d.until <= $1
        ELSE coalesce((SELECT j.state IN ('completed', 'failed', 'canceled') FROM {s}.jobs j WHERE j.id = d.id), true) END
        OR NOT EXISTS (SELECT 1 FROM {s}.jobs j WHERE j.id = d.id)`),
      [now],
    );
    // Ended rate windows count for nothing.
    await c.query(
      this.sql(`DELETE FROM {s}.group_rates g WHERE NOT EXISTS (SELECT 1 FROM {s}.queues q WHERE q.name = g.queue
        AND jsonb_typeof(q.config->'groupRateLimit') = 'object' AND g.start > $1 - (q.config->'groupRateLimit'->>'durationMs')::int8)`),
      [now],
    );
    // Fair-share turns at or behind their line's head would change no later turn; rows an
    // add holds right now are left for the next round.
    await c.query(
      this.sql(`DELETE FROM {s}.fair WHERE (queue, priority, grp) IN (SELECT queue, priority, grp FROM {s}.fair f
        WHERE last <= coalesce((SELECT ready_seq FROM {s}.jobs WHERE queue = f.queue AND state = 'queued' AND priority = f.priority ORDER BY ready_seq LIMIT 1), 9223372036854775807)
        FOR UPDATE SKIP LOCKED)`),
    );
    const more = [found.late, found.due, found.lapsed, found.expired].some((p) => p.length === MAINTAIN_BATCH);
    return { ...report, more };
  }

  async dependents(id: string): Promise<string[]> {
    if (!storable(id)) return [];
    return (await this.query<{ child: string }>('SELECT child FROM {s}.deps WHERE parent = $1 ORDER BY child', [id])).rows.map((r) => r.child);
  }

  async history(since: number, queues?: string[]): Promise<MinuteCounts[]> {
    const r = await this.query<MinuteCounts>(
      `SELECT queue, at, sum(completed)::int AS completed, sum(failed)::int AS failed FROM {s}.minutes
        WHERE at >= $1 AND ($2::text[] IS NULL OR queue = ANY($2::text[])) GROUP BY at, queue ORDER BY at, queue`,
      [historyStart(since, this.clock.now()), queues ?? null],
    );
    return r.rows.map((r) => ({ queue: r.queue, at: Number(r.at), completed: r.completed, failed: r.failed }));
  }

  async groups(queue: string, limit?: number): Promise<GroupPage> {
    const r = await this.query<{ g: string; state: 'queued' | 'active'; n: number }>(
      `SELECT group_key AS g, state, count(*)::int AS n FROM {s}.jobs WHERE queue = $1 AND state IN ('queued', 'active') AND group_key IS NOT NULL GROUP BY group_key, state`,
      [queue],
    );
    const counts = new Map<string, GroupCounts>();
    for (const row of r.rows) countGroup(counts, row.g, row.state, row.n);
    return { groups: topGroups(counts, limit), sampled: false };
  }

  async wait(queues: string[], timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return;
    // The waiter starts now, on the clock as it is now; the due times it learns below only
    // shorten its sleep (a waiter that started after the query answered would measure its
    // timeout from a later moment).
    const waiting = this.feed.waiters.wait(queues, timeoutMs, signal);
    // A wait that begins before this store's LISTEN is in force (its first, or one beside
    // it) waits for the LISTEN, then also looks for ready jobs: one added before was not heard.
    const first = !this.feed.hearsWake;
    if (first) await this.feed.listenWake();
    // Scheduled jobs (perhaps added by another process) bound the sleep.
    const ready = first ? "UNION ALL SELECT q, -1 FROM unnest($1::text[]) q WHERE EXISTS (SELECT 1 FROM {s}.jobs WHERE queue = q AND state = 'queued')" : '';
    this.query<{ queue: string; at: number }>(
      `SELECT queue, MIN(run_at) AS at FROM {s}.jobs WHERE state = 'scheduled' AND queue = ANY($1::text[]) GROUP BY queue ${ready}`,
      [queues],
    ).then(
      (due) => {
        for (const d of due.rows) {
          if (Number(d.at) === -1) this.feed.waiters.notify(d.queue);
          else this.feed.waiters.notifyAt(d.queue, Number(d.at));
        }
      },
      // Unreachable: sleep the timeout; the caller's next claim reports the error.
      () => undefined,
    );
    await waiting;
  }

  subscribe(listener: (event: JobEvent) => void, types?: readonly JobEventType[]): () => void {
    return this.feed.subscribe(listener, types);
  }

  // ----- schedules ----------------------------------------------------------------------

  async saveSchedule(schedule: Schedule): Promise<void> {
    const { spec, progress } = splitSchedule(schedule);
    await this.query(
      'INSERT INTO {s}.schedules (queue, id, spec, progress) VALUES ($1, $2, $3, $4) ON CONFLICT (queue, id) DO UPDATE SET spec = excluded.spec, progress = excluded.progress',
      [schedule.queue, schedule.id, spec, progress],
    );
  }

  async schedules(queue?: string): Promise<Schedule[]> {
    const r = await (queue === undefined
      ? this.query<{ spec: string; progress: string }>('SELECT spec, progress FROM {s}.schedules ORDER BY queue, id')
      : this.query<{ spec: string; progress: string }>('SELECT spec, progress FROM {s}.schedules WHERE queue = $1 ORDER BY id', [queue]));
    return r.rows.map((x) => joinSchedule(x.spec, x.progress));
  }

  async removeSchedule(queue: string, id: string): Promise<boolean> {
    return ((await this.query('DELETE FROM {s}.schedules WHERE queue = $1 AND id = $2', [queue, id])).rowCount ?? 0) > 0;
  }

  async advanceSchedule(queue: string, id: string, expected: ScheduleProgress, next: ScheduleProgress): Promise<boolean> {
    const r = await this.query('UPDATE {s}.schedules SET progress = $1 WHERE queue = $2 AND id = $3 AND progress = $4', [progressJson(next), queue, id, progressJson(expected)]);
    return (r.rowCount ?? 0) > 0;
  }

  // ----- leadership ---------------------------------------------------------------------

  async lead(role: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.clock.now();
    const r = await this.query(
      `INSERT INTO {s}.leaders (role, holder, until) VALUES ($1, $2, $3)
       ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, until = excluded.until WHERE leaders.holder = excluded.holder OR leaders.until <= $4`,
      [role, holder, now + ttlMs, now],
    );
    return (r.rowCount ?? 0) > 0;
  }

  async resign(role: string, holder: string): Promise<void> {
    await this.query('DELETE FROM {s}.leaders WHERE role = $1 AND holder = $2', [role, holder]);
  }

  // ----- workers ------------------------------------------------------------------------

  async reportWorker(info: WorkerInfo, ttlMs: number): Promise<void> {
    // A Worker reports before its first claim: from then on it hears wake-ups, with no gap
    // between that claim and its first wait.
    await this.feed.listenWake();
    await this.query('INSERT INTO {s}.workers (id, info, until) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET info = excluded.info, until = excluded.until', [
      info.id,
      JSON.stringify(info),
      this.clock.now() + ttlMs,
    ]);
  }

  async removeWorker(id: string): Promise<void> {
    await this.query('DELETE FROM {s}.workers WHERE id = $1', [id]);
  }

  async workers(): Promise<WorkerInfo[]> {
    const r = await this.query<{ info: string }>('SELECT info FROM {s}.workers WHERE until > $1 ORDER BY id', [this.clock.now()]);
    return r.rows.map((x) => JSON.parse(x.info) as WorkerInfo);
  }

  async problem(): Promise<string | null> {
    try {
      await this.query('SELECT 1');
    } catch (err) {
      return `cannot reach PostgreSQL at ${this.location}: ${(err as Error).message}`;
    }
    return this.feed.lastError;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.feed.close();
    this.closed = true;
    await this.pool.end();
  }
}
