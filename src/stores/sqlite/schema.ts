/**
 * The SQLite schema. Columns are what queries filter and sort on; the rest of a job lives
 * in `doc` (JSON) and its data in `data` (the JSON text exactly as the producer sent it).
 * `jobs` is a rowid table on purpose: its rows are large, and WITHOUT ROWID tables pay for
 * large rows on every update (measured: slower claims).
 */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  queue TEXT NOT NULL,
  name TEXT NOT NULL,
  state TEXT NOT NULL,
  priority INTEGER NOT NULL,
  ready_seq INTEGER NOT NULL DEFAULT 0,
  created_seq INTEGER NOT NULL,
  run_at INTEGER,
  lease_until INTEGER,
  token TEXT,
  group_key TEXT,
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  log_count INTEGER NOT NULL DEFAULT 0,
  data TEXT NOT NULL,
  doc TEXT NOT NULL,
  -- Latest start (expiresIn/expiresAt); files from before get it by ALTER TABLE at open.
  start_by INTEGER
);
-- Serves claim: the next ready jobs of a queue by priority, then arrival.
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, state, priority DESC, ready_seq);
-- Creation order is rowid order: a job's rowid is its creation number (set at insert;
-- created_seq holds the same number and is kept for files written before). So listing by
-- creation needs no index of its own, and (queue) is (queue, rowid): two index pages less
-- per add than the (created_seq) and (queue, created_seq) indexes that were here.
CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (queue);
DROP INDEX IF EXISTS jobs_created;
DROP INDEX IF EXISTS jobs_queue_created;
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_at) WHERE state = 'scheduled';
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs (state, lease_until) WHERE state = 'active';
CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS deps (child TEXT NOT NULL, parent TEXT NOT NULL, PRIMARY KEY (parent, child)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (job_id TEXT NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL, stream TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (job_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, config TEXT NOT NULL, rate_start INTEGER NOT NULL DEFAULT 0, rate_count INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
-- Plain rowid ids (no AUTOINCREMENT: that wrote a sqlite_sequence page on every commit, 10% of
-- a single add). Ids still only grow: maintain() trims the oldest rows and keeps the newest.
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, origin TEXT NOT NULL, body TEXT NOT NULL);
-- Stores (processes) that read the events table: a transaction writes its events row only
-- while another one is registered here and not past its 'until' (see process-feed.ts).
CREATE TABLE IF NOT EXISTS listeners (origin TEXT PRIMARY KEY, until INTEGER NOT NULL) WITHOUT ROWID;
-- Schedules: the spec as JSON, and the scheduler's progress as JSON (compared and set as a whole).
CREATE TABLE IF NOT EXISTS schedules (queue TEXT NOT NULL, id TEXT NOT NULL, spec TEXT NOT NULL, progress TEXT NOT NULL, PRIMARY KEY (queue, id)) WITHOUT ROWID;
-- Leadership leases (Store.lead): one holder per role until 'until'.
CREATE TABLE IF NOT EXISTS leaders (role TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, info TEXT NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
-- Fair shares: each group's last turn per queue and priority (see engine/fair-turns.ts).
CREATE TABLE IF NOT EXISTS fair (queue TEXT NOT NULL, priority INTEGER NOT NULL, grp TEXT NOT NULL, last INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (queue, priority, grp)) WITHOUT ROWID;
-- Dedupe keys (stores/dedupe.ts): the job that took a key in a queue, and until when it holds at most.
CREATE TABLE IF NOT EXISTS dedupe (queue TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL, until INTEGER, PRIMARY KEY (queue, key)) WITHOUT ROWID;
-- Each group's current rate window (groupRateLimit); ended ones are deleted by upkeep.
CREATE TABLE IF NOT EXISTS group_rates (queue TEXT NOT NULL, grp TEXT NOT NULL, start INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (queue, grp)) WITHOUT ROWID;
-- Finished jobs per queue and minute (Store.history), for the last day.
CREATE TABLE IF NOT EXISTS minutes (queue TEXT NOT NULL, at INTEGER NOT NULL, completed INTEGER NOT NULL, failed INTEGER NOT NULL, PRIMARY KEY (at, queue)) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (key, value) VALUES ('seq', 0);
`;

/**
 * A queue's ready jobs past their latest start (a claim cancels them first), read through the
 * latest-start index, which holds only jobs that have one: left to itself the planner walks
 * the queue's whole ready index instead (measured: 0.5 ms per claimed job at 100,000 queued).
 */
export const LATE_READY_QUERY = "SELECT id FROM jobs INDEXED BY jobs_start_by WHERE start_by <= ? AND start_by IS NOT NULL AND queue = ? AND state = 'queued' LIMIT 1000";

/** Events kept for other processes to tail; older ones are trimmed by maintain(). */
export const EVENTS_KEPT = 10_000;
/** A listener registration lasts this long unless renewed (every LISTEN_RENEW_MS). */
export const LISTEN_TTL_MS = 60_000;
export const LISTEN_RENEW_MS = 15_000;

/** What files written before need: columns added since, and their indexes. */
export const MIGRATIONS = (columns: Set<string>): string[] => [
  ...(columns.has('start_by') ? [] : ['ALTER TABLE jobs ADD COLUMN start_by INTEGER']),
  'CREATE INDEX IF NOT EXISTS jobs_start_by ON jobs (start_by) WHERE start_by IS NOT NULL',
];
