/**
 * Writes one run's changes (a Snapshot) back in a single statement: new rows, changed rows,
 * deletions, dependency edges and notifications are data-modifying CTEs over arrays
 * (`unnest`), so a batch of any size costs one round trip. The parts touch disjoint rows by
 * construction (snapshot.ts keeps a row in one of written / deleted), which is what CTEs of
 * one statement need: they all see the table as it was before the statement.
 */
import { byMinute, tallyEvents } from '../minutes.ts';
import { encodeDoc } from '../job-doc.ts';
import { storableJson } from './storable.ts';
import type { JobEvent, MinuteCounts } from '../store.ts';
import type { Snapshot, Written } from './snapshot.ts';

/** NOTIFY payloads stay under PostgreSQL's 8,000-byte limit. */
export const PAYLOAD_BYTES = 7000;

/**
 * Splits items into JSON arrays of at most PAYLOAD_BYTES each (an item longer than that on
 * its own goes alone). One stringify for the common batch that fits; a longer one is cut by
 * count in proportion to its length and each part checked again: a stringify per item was
 * 5% of a bulk add's client CPU (measured).
 */
export function chunkJson(items: unknown[]): string[] {
  if (items.length === 0) return [];
  const whole = JSON.stringify(items);
  if (whole.length <= PAYLOAD_BYTES || items.length === 1) return [whole];
  const per = Math.max(1, Math.floor(items.length / (Math.ceil(whole.length / PAYLOAD_BYTES) + 1)));
  const out: string[] = [];
  for (let i = 0; i < items.length; i += per) out.push(...chunkJson(items.slice(i, i + per)));
  return out;
}

/** What a wake-up notification carries: queues with ready work, earliest due times. */
export interface WakePayload {
  /** The store that wrote it ('' for a caller's own transaction: everyone handles it). */
  o: string;
  q: string[];
  d: [string, number][];
}

export interface Channels {
  events: string;
  wake: string;
}

export function channelsOf(schema: string): Channels {
  return { events: `${schema}.events`, wake: `${schema}.wake` };
}

/** Longest error or message text an event carries to other processes (a payload must fit 8,000 bytes). */
const EVENT_TEXT = 1000;

function slim(e: JobEvent): JobEvent {
  if ((e.error?.length ?? 0) <= EVENT_TEXT && (e.message?.length ?? 0) <= EVENT_TEXT) return e;
  return { ...e, ...(e.error === undefined ? {} : { error: e.error.slice(0, EVENT_TEXT) }), ...(e.message ? { message: e.message.slice(0, EVENT_TEXT) } : {}) };
}

/** Event chunks, each of one event type (runs of one type, in order), with that type. */
export interface EventChunks {
  bodies: string[];
  types: string[];
}

/**
 * The notification statements' parts: event chunks, each sent only while another store
 * wants its type, and wake-ups. Events keep their order: a chunk is a run of one type.
 */
export function notifications(origin: string, events: JobEvent[], woken: Iterable<string>, due: Map<string, number>): { events: EventChunks; wake: string[] } {
  const q = [...woken];
  const d = [...due];
  const wake = q.length === 0 && d.length === 0 ? [] : chunkJson([...q.map((x) => ['q', x]), ...d.map(([x, at]) => ['d', x, at])]).map((c) => `${origin} ${c}`);
  const out: EventChunks = { bodies: [], types: [] };
  for (let i = 0; i < events.length; ) {
    let j = i;
    while (j < events.length && events[j].type === events[i].type) j++;
    for (const c of chunkJson(events.slice(i, j).map(slim))) {
      out.bodies.push(`${origin} ${c}`);
      out.types.push(events[i].type);
    }
    i = j;
  }
  return { events: out, wake };
}

export interface Statement {
  text: string;
  values: unknown[];
}

export function flushStatement(schema: string, snap: Snapshot, origin: string, realNow: number): Statement | null {
  const s = `"${schema}"`;
  const ch = channelsOf(schema);
  const values: unknown[] = [];
  const p = (v: unknown, type: string) => {
    values.push(v);
    return `$${values.length}::${type}`;
  };
  const parts: string[] = [];
  const inserts = [...snap.written.values()].filter((w) => w.dataJson !== undefined);
  const updates = [...snap.written.values()].filter((w) => w.dataJson === undefined);
  const turns = turnsPart(s, [...inserts.filter((w) => w.job.state === 'queued'), ...updates.filter((w) => w.requeued && w.job.state === 'queued')], p);
  if (turns) parts.push(turns);
  if (inserts.length > 0) parts.push(`ins AS (${insertRows(s, inserts, p, '', turns !== null)})`);
  if (updates.length > 0) {
    const linkedParents = new Set(snap.links.map((l) => l[1]));
    const col = <T>(f: (w: (typeof updates)[number]) => T) => updates.map(f);
    const rows = `unnest(${p(col((w) => w.job.id), 'text[]')}, ${p(col((w) => w.job.queue), 'text[]')}, ${p(col((w) => w.job.state), 'text[]')}, ${p(col((w) => w.job.runAt), 'int8[]')}, ${p(col((w) => w.job.leaseUntil), 'int8[]')},
        ${p(col((w) => w.token), 'text[]')}, ${p(col((w) => w.job.expiresAt), 'int8[]')}, ${p(col((w) => w.job.finishedAt), 'int8[]')}, ${p(col((w) => storableJson(encodeDoc(w.job))), 'text[]')},
        ${p(col((w) => w.requeued), 'bool[]')}, ${p(col((w) => w.newData ?? null), 'text[]')}, ${p(col((w) => linkedParents.has(w.job.id)), 'bool[]')})
        AS u0(id, queue, state, run_at, lease_until, token, expires_at, finished_at, doc, requeued, data, linked)`;
    // A grouped job queued again takes its group's turn; others the next arrival number.
    const arrival = turns ? `coalesce(u.turn, nextval('${s}.seq'))` : `nextval('${s}.seq')`;
    parts.push(`upd AS (UPDATE ${s}.jobs j SET queue = u.queue, state = u.state, run_at = u.run_at, lease_until = u.lease_until, token = u.token, expires_at = u.expires_at,
        finished_at = u.finished_at, doc = u.doc::jsonb, linked = j.linked OR u.linked, ready_seq = CASE WHEN u.requeued THEN ${arrival} ELSE j.ready_seq END, data = coalesce(u.data, j.data)
      FROM (SELECT u0.*${turns ? ', t.turn' : ''} FROM ${rows}${turns ? ' LEFT JOIN turns t ON t.id = u0.id' : ''}) AS u
      WHERE j.id = u.id)`);
  }
  if (snap.deleted.size > 0) {
    const ids = p([...snap.deleted], 'text[]');
    parts.push(`del AS (DELETE FROM ${s}.jobs WHERE id = ANY(${ids}))`, `dell AS (DELETE FROM ${s}.logs WHERE job_id = ANY(${ids}))`);
  }
  if (snap.deleted.size > 0 || snap.taken.size > 0) {
    parts.push(`deld AS (DELETE FROM ${s}.deps WHERE child = ANY(${p([...snap.deleted], 'text[]')}) OR parent = ANY(${p([...snap.taken], 'text[]')}))`);
  }
  if (snap.links.length > 0) {
    parts.push(`lnk AS (INSERT INTO ${s}.deps (child, parent) SELECT * FROM unnest(${p(snap.links.map((l) => l[0]), 'text[]')}, ${p(snap.links.map((l) => l[1]), 'text[]')}) ON CONFLICT DO NOTHING)`);
    // Parents that existed before this statement (locked by the run) carry the flag (schema.ts, migration 4).
    const parents = [...new Set(snap.links.map((l) => l[1]))].filter((id) => !snap.written.has(id) && !snap.deleted.has(id));
    if (parents.length > 0) parts.push(`lnkf AS (UPDATE ${s}.jobs SET linked = true WHERE id = ANY(${p(parents, 'text[]')}) AND NOT linked)`);
  }
  const tallies = tallyEvents(snap.events).sort(byMinute);
  if (tallies.length > 0) {
    const col = <T>(f: (t: MinuteCounts) => T) => tallies.map(f);
    parts.push(`tally AS (INSERT INTO ${s}.minutes AS m (queue, at, shard, completed, failed)
      SELECT q, a, ${p(Math.floor(Math.random() * 16), 'int2')}, c, f FROM unnest(${p(col((t) => t.queue), 'text[]')}, ${p(col((t) => t.at), 'int8[]')}, ${p(col((t) => t.completed), 'int4[]')}, ${p(col((t) => t.failed), 'int4[]')}) AS u(q, a, c, f)
      ON CONFLICT (at, queue, shard) DO UPDATE SET completed = m.completed + excluded.completed, failed = m.failed + excluded.failed)`);
  }
  const notes = notifications(origin, snap.events, snap.woken, snap.due);
  const selects: string[] = [];
  if (notes.events.bodies.length > 0) selects.push(eventsNotify(s, ch.events, p, notes.events, origin, realNow));
  if (notes.wake.length > 0) selects.push(`(SELECT count(pg_notify(${p(ch.wake, 'text')}, w)) FROM unnest(${p(notes.wake, 'text[]')}) w)`);
  if (parts.length === 0 && selects.length === 0) return null;
  const text = `${parts.length > 0 ? `WITH ${parts.join(',\n')}\n` : ''}SELECT ${selects.length > 0 ? selects.join(', ') : '1'}`;
  return { text, values };
}

type Param = (v: unknown, type: string) => string;

/**
 * The turns of grouped jobs becoming ready (engine/fair-turns.ts), or null when there are
 * none. One call per job, sorted by queue, priority and group, so concurrent transactions
 * lock groups' rows in the same order (no deadlock between two batches).
 */
function turnsPart(s: string, ready: Written[], p: Param): string | null {
  const grouped = ready.filter((w) => w.job.groupKey !== null);
  if (grouped.length === 0) return null;
  const col = <T>(f: (w: Written) => T) => grouped.map(f);
  return `turns AS MATERIALIZED (SELECT t.id, ${s}.fair_turn(t.q, t.p, t.g) AS turn
      FROM unnest(${p(col((w) => w.job.id), 'text[]')}, ${p(col((w) => w.job.queue), 'text[]')}, ${p(col((w) => w.job.priority), 'int[]')}, ${p(col((w) => w.job.groupKey), 'text[]')})
        WITH ORDINALITY AS t(id, q, p, g, ord) ORDER BY t.q, t.p, t.g, t.ord)`;
}

/**
 * INSERT of new rows from arrays, each taking the next sequence number (creation and first
 * arrival; a grouped ready job's arrival is its turn, from the `turns` part when `withTurns`);
 * `tail` ends the statement.
 */
function insertRows(s: string, inserts: Written[], p: Param, tail: string, withTurns: boolean): string {
  // The rows go as one JSON text, unpacked by json_to_recordset: node-postgres escapes
  // array parameters element by element in JavaScript, ~20% of a bulk add's client CPU
  // (measured), where JSON.stringify is native.
  const rows = JSON.stringify(
    inserts.map((w) => ({
      id: w.job.id, queue: w.job.queue, name: w.job.name, state: w.job.state, priority: w.job.priority, run_at: w.job.runAt, lease_until: w.job.leaseUntil,
      token: w.token, group_key: w.job.groupKey, expires_at: w.job.expiresAt, created_at: w.job.createdAt, finished_at: w.job.finishedAt, start_by: w.job.startBy,
      data: w.dataJson, doc: storableJson(encodeDoc(w.job)),
    })),
  );
  return `INSERT INTO ${s}.jobs (id, queue, name, state, priority, created_seq, ready_seq, run_at, lease_until, token, group_key, expires_at, created_at, finished_at, start_by, data, doc)
      SELECT x.id, queue, name, state, priority, sq, ${withTurns ? 'coalesce(t.turn, sq)' : 'sq'}, run_at, lease_until, token, group_key, expires_at, created_at, finished_at, start_by, data, doc::jsonb
      FROM (SELECT u.*, nextval('${s}.seq') AS sq FROM ROWS FROM (json_to_recordset(${p(rows, 'json')}) AS (id text, queue text, name text, state text, priority int,
          run_at int8, lease_until int8, token text, group_key text, expires_at int8, created_at int8, finished_at int8, start_by int8, data text, doc text))
        WITH ORDINALITY AS u(id, queue, name, state, priority, run_at, lease_until, token, group_key, expires_at, created_at, finished_at, start_by, data, doc, ord) ORDER BY ord) x${withTurns ? ' LEFT JOIN turns t ON t.id = x.id' : ''}${tail}`;
}

/**
 * The optimistic add (a batch of new jobs without dependencies, decided on the assumptions
 * that none of their ids exists and that their queues have no size or per-type limits), in
 * one statement that checks those assumptions as it writes: nothing is written when a queue
 * has limits (`ok` false: take the transactional path), and an id that exists is skipped
 * (it is a duplicate; `inserted` lists the ids written, null when all were). Notifications are sent only when
 * every row was written; otherwise the caller sends those of the rows that were.
 */
export function optimisticAddStatement(schema: string, snap: Snapshot, origin: string, realNow: number, newQueues: string[], defaultConfig: string): Statement {
  const s = `"${schema}"`;
  const ch = channelsOf(schema);
  const values: unknown[] = [];
  const p: Param = (v, type) => {
    values.push(v);
    return `$${values.length}::${type}`;
  };
  const inserts = [...snap.written.values()];
  const queues = [...new Set(inserts.map((w) => w.job.queue))];
  const parts = [
    `g AS (SELECT NOT EXISTS (SELECT 1 FROM ${s}.queues WHERE name = ANY(${p(queues, 'text[]')})
       AND (jsonb_typeof(config->'maxSize') = 'number' OR (jsonb_typeof(config->'typeLimits') = 'object' AND config->'typeLimits' <> '{}'::jsonb))) AS ok)`,
    ...(newQueues.length > 0
      ? [`qi AS (INSERT INTO ${s}.queues (name, config) SELECT unnest(${p(newQueues, 'text[]')}), ${p(defaultConfig, 'jsonb')} WHERE (SELECT ok FROM g) ON CONFLICT (name) DO NOTHING)`]
      : []),
  ];
  const turns = turnsPart(s, inserts.filter((w) => w.job.state === 'queued'), p);
  if (turns) parts.push(turns);
  parts.push(`ins AS (${insertRows(s, inserts, p, ' WHERE (SELECT ok FROM g) ON CONFLICT (id) DO NOTHING RETURNING id', turns !== null)})`);
  const all = `(SELECT count(*) FROM ins) = ${p(inserts.length, 'int')}`;
  const notes = notifications(origin, snap.events, snap.woken, snap.due);
  // The ids written only when some were not (parsing 1,000 ids back cost more than the count).
  const selects = ['(SELECT ok FROM g) AS ok', `CASE WHEN ${all} THEN NULL ELSE (SELECT COALESCE(array_agg(id), '{}') FROM ins) END AS inserted`];
  if (notes.events.bodies.length > 0) selects.push(`${eventsNotify(s, ch.events, p, notes.events, origin, realNow).slice(0, -1)} AND ${all})`);
  if (notes.wake.length > 0) selects.push(`(SELECT count(pg_notify(${p(ch.wake, 'text')}, w)) FROM unnest(${p(notes.wake, 'text[]')}) w WHERE ${all})`);
  return { text: `WITH ${parts.join(',\n')}\nSELECT ${selects.join(', ')}`, values };
}

/**
 * Sends each event chunk only while a store other than `origin` wants its type (see schema.ts
 * listeners). The chunks go as one JSON text ([[body, type], …]): as a text[] parameter,
 * node-postgres escaped their 7 KB bodies character by character in JavaScript.
 */
export function eventsNotify(s: string, channel: string, p: (v: unknown, type: string) => string, chunks: EventChunks, origin: string, realNow: number): string {
  const pairs = JSON.stringify(chunks.bodies.map((b, i) => [b, chunks.types[i]]));
  return `(SELECT count(pg_notify(${p(channel, 'text')}, x.body)) FROM (SELECT e->>0 AS body, e->>1 AS type FROM json_array_elements(${p(pairs, 'json')}) e) x
    WHERE EXISTS (SELECT 1 FROM ${s}.listeners l WHERE l.origin <> ${p(origin, 'text')} AND l.until > ${p(realNow, 'int8')} AND (l.types IS NULL OR x.type = ANY(l.types))))`;
}
