/**
 * The PostgreSQL schema, as numbered migrations. Each runs once per schema, in order, in
 * the transaction that opens the store (or in `conveyor migrate`), under an advisory lock:
 * two processes opening a fresh database at once do not race. Released versions are never
 * edited; a change is a new entry at the end.
 *
 * Like the SQLite schema: columns are what queries filter and sort on, the rest of a job is
 * its `doc` (see ../job-doc.ts), its data the JSON text as the producer sent it.
 *
 * Bloat: finished jobs stay in `jobs` until retention removes them, and every state change
 * is an update. The table keeps room on each page for the new row version (fillfactor), and
 * autovacuum visits it after 1% of its rows changed instead of PostgreSQL's default 20%, so
 * dead versions are reused instead of growing the file (docs/stores-postgres.md has sizes).
 */

/** `{s}` stands for the quoted schema name. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE SEQUENCE {s}.seq;
  CREATE TABLE {s}.jobs (
    id text PRIMARY KEY,
    queue text NOT NULL,
    name text NOT NULL,
    state text NOT NULL,
    priority integer NOT NULL,
    created_seq bigint NOT NULL,
    ready_seq bigint NOT NULL,
    run_at bigint,
    lease_until bigint,
    token text,
    group_key text,
    expires_at bigint,
    created_at bigint NOT NULL,
    finished_at bigint,
    start_by bigint,
    log_count integer NOT NULL DEFAULT 0,
    data text NOT NULL,
    doc jsonb NOT NULL
  ) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_insert_scale_factor = 0.01,
          autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
  -- Claims: the next ready jobs of a queue by priority, then arrival. Partial: only ready rows.
  CREATE INDEX jobs_ready ON {s}.jobs (queue, priority DESC, ready_seq) WHERE state = 'queued';
  -- Listing by creation, per queue and overall; counts per queue and state.
  CREATE INDEX jobs_queue_created ON {s}.jobs (queue, created_seq);
  CREATE INDEX jobs_created ON {s}.jobs (created_seq);
  CREATE INDEX jobs_queue_state ON {s}.jobs (queue, state);
  -- Upkeep: due scheduled jobs, lapsed leases, retention, latest starts.
  CREATE INDEX jobs_due ON {s}.jobs (queue, run_at) WHERE state = 'scheduled';
  CREATE INDEX jobs_lease ON {s}.jobs (lease_until) WHERE state = 'active';
  CREATE INDEX jobs_expiry ON {s}.jobs (expires_at) WHERE expires_at IS NOT NULL;
  -- Waiting jobs with a latest start: finished ones leave it, so it stays small.
  CREATE INDEX jobs_start_by ON {s}.jobs (start_by) WHERE start_by IS NOT NULL AND state IN ('pending', 'scheduled', 'deferred', 'queued');
  CREATE TABLE {s}.deps (parent text NOT NULL, child text NOT NULL, PRIMARY KEY (parent, child));
  CREATE INDEX deps_child ON {s}.deps (child);
  CREATE TABLE {s}.logs (job_id text NOT NULL, seq integer NOT NULL, at bigint NOT NULL, stream text NOT NULL, line text NOT NULL, PRIMARY KEY (job_id, seq));
  CREATE TABLE {s}.queues (name text PRIMARY KEY, config jsonb NOT NULL, rate_start bigint NOT NULL DEFAULT 0, rate_count integer NOT NULL DEFAULT 0);
  CREATE TABLE {s}.schedules (queue text NOT NULL, id text NOT NULL, spec text NOT NULL, progress text NOT NULL, PRIMARY KEY (queue, id));
  CREATE TABLE {s}.leaders (role text PRIMARY KEY, holder text NOT NULL, until bigint NOT NULL);
  CREATE TABLE {s}.workers (id text PRIMARY KEY, info text NOT NULL, until bigint NOT NULL);
  -- Stores that have event subscribers, and the event types they need (NULL: all): writers
  -- send an event only while some other store is registered for its type.
  CREATE TABLE {s}.listeners (origin text PRIMARY KEY, until bigint NOT NULL, types text[]);
  `,
  // 2: finished jobs per queue and minute (Store.history). A transaction adds to one of 16
  // rows per queue and minute (its shard, at random), so concurrent finishes rarely wait on
  // one row's lock; reads sum the shards.
  `
  CREATE TABLE {s}.minutes (queue text NOT NULL, at bigint NOT NULL, shard smallint NOT NULL, completed integer NOT NULL, failed integer NOT NULL,
    PRIMARY KEY (at, queue, shard)) WITH (fillfactor = 70);
  `,
  // 3: fair shares across groups (engine/fair-turns.ts): each group's last turn per queue and
  // priority, and the function that gives a grouped job its turn. The line's head is the
  // next ready job at that priority; when none waits, the arrival sequence's current value.
  // And each group's current rate window (groupRateLimit), and dedupe keys (stores/dedupe.ts).
  `
  CREATE TABLE {s}.dedupe (queue text NOT NULL, key text NOT NULL, id text NOT NULL, until bigint, PRIMARY KEY (queue, key));
  CREATE TABLE {s}.group_rates (queue text NOT NULL, grp text NOT NULL, start bigint NOT NULL, count integer NOT NULL,
    PRIMARY KEY (queue, grp)) WITH (fillfactor = 70);
  CREATE TABLE {s}.fair (queue text NOT NULL, priority integer NOT NULL, grp text NOT NULL, last bigint NOT NULL, used integer NOT NULL DEFAULT 1,
    PRIMARY KEY (queue, priority, grp)) WITH (fillfactor = 70);
  -- excluded.last - 1 is the line's head; a group of weight w (the queue's groupWeights)
  -- puts up to w jobs on one turn while that turn is still ahead of the head.
  CREATE FUNCTION {s}.fair_turn(q text, p integer, g text) RETURNS bigint LANGUAGE sql VOLATILE AS $$
    INSERT INTO {s}.fair AS f (queue, priority, grp, last, used)
    VALUES (q, p, g, coalesce((SELECT ready_seq FROM {s}.jobs WHERE queue = q AND state = 'queued' AND priority = p ORDER BY ready_seq LIMIT 1),
                              (SELECT last_value FROM {s}.seq)) + 1, 1)
    ON CONFLICT (queue, priority, grp) DO UPDATE SET
      last = CASE WHEN f.last > excluded.last - 1 AND f.used < coalesce((SELECT (config->'groupWeights'->>g)::int FROM {s}.queues WHERE name = q), 1)
                  THEN f.last ELSE greatest(excluded.last - 1, f.last) + 1 END,
      used = CASE WHEN f.last > excluded.last - 1 AND f.used < coalesce((SELECT (config->'groupWeights'->>g)::int FROM {s}.queues WHERE name = q), 1)
                  THEN f.used + 1 ELSE 1 END
    RETURNING last
  $$;
  `,
  // 4: a job that ever had a dependent linked to it. The add that links a child sets it on
  // the parent's row (which it holds locked), so a finish that waited for that lock sees the
  // flag on the row it gets (PostgreSQL re-reads a row updated while it waited, but the rest
  // of the statement keeps its older snapshot, which may miss the new link): such a finish
  // reads the parent's dependents again in a statement of its own.
  `
  ALTER TABLE {s}.jobs ADD COLUMN linked boolean NOT NULL DEFAULT false;
  `,
  // 5: one index for counts and for every read in creation order, instead of three. Every
  // add writes an entry in each index of jobs, and so does every state change (it cannot be
  // a HOT update): (queue, state, created_seq) serves counts per queue and state, and reads
  // in creation order merge one range per queue and state (postgres-store.ts, byCreation).
  // On a large table this builds the index while writes wait: see docs/stores-postgres.md.
  `
  CREATE INDEX jobs_queue_state_created ON {s}.jobs (queue, state, created_seq);
  DROP INDEX {s}.jobs_queue_created;
  DROP INDEX {s}.jobs_created;
  DROP INDEX {s}.jobs_queue_state;
  `,
];

/** The version a store of this build expects. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** A schema name must be a plain lower-case identifier: it is spliced into SQL and channel names. */
export const SCHEMA_NAME_RE = /^[a-z_][a-z0-9_]{0,40}$/;

/** A listener registration lasts this long (real time) unless renewed every LISTEN_RENEW_MS. */
export const LISTEN_TTL_MS = 60_000;
export const LISTEN_RENEW_MS = 15_000;
