/**
 * A job's `doc` column (SQLite and PostgreSQL): the Job without what the row's columns already hold (id, queue,
 * name, state, priority, createdAt), without its data and log count, and without the
 * fields that hold their defaults. Most of a fresh job is null or a default; leaving those
 * out takes a row from ~800 to ~300 bytes, and a batch writes (and commits) a page per few
 * rows. Documents written in full (before this) read back the same: the columns win.
 */
import type { Job } from '../core/job.ts';

/** Fields left out while they are null. */
const NULLABLE = [
  'runAt', 'backoff', 'timeoutMs', 'message', 'result', 'startedAt', 'finishedAt', 'workerId', 'leaseUntil',
  'groupKey', 'resultTtlMs', 'failureTtlMs', 'expiresAt', 'scheduleId', 'trace', 'originalQueue', 'waitingOn', 'dedupeKey', 'debounceKey',
] as const;

/** Fields left out while they hold these values. */
const DEFAULTS = { attempt: 0, progress: 0, maxAttempts: 1, onParentFailure: 'fail' } as const;

/** Fields every row holds as columns (see each store's schema), set from them by decodeDoc. */
type Columns = 'id' | 'queue' | 'name' | 'state' | 'priority' | 'createdAt' | 'startBy';

/** Every field a document may hold (a fixed list: Object.entries per job measured 8% of W3). */
const FIELDS = ['attempt', 'maxAttempts', 'progress', 'onParentFailure', 'errors', 'dependsOn', ...NULLABLE] as const;

// A Job field in neither list would be silently dropped: make that a type error.
type Missing = Exclude<Exclude<keyof Job, 'data' | 'logCount'>, (typeof FIELDS)[number] | Columns>;
const _complete: [Missing] extends [never] ? true : Missing = true;
void _complete;

/** The columns a document is read with (DocColumns), as a SELECT list. */
export const DOC_COLUMNS = 'id, queue, name, state, priority, created_at, start_by';

/** The columns a document is read with. */
export interface DocColumns {
  id: string;
  queue: string;
  name: string;
  state: string;
  priority: number;
  created_at: number;
  start_by: number | null;
}

export function encodeDoc(job: Job): string {
  const doc: Record<string, unknown> = {};
  for (const k of FIELDS) {
    const v = job[k];
    if (v === null || v === undefined) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (v === DEFAULTS[k as keyof typeof DEFAULTS]) continue;
    doc[k] = v;
  }
  return JSON.stringify(doc);
}

/** The Job a document and its row's columns describe; `data` and `logCount` are the caller's to fill. */
export function decodeDoc(text: string, cols: DocColumns): Job {
  const job = JSON.parse(text) as Job & Record<string, unknown>;
  for (const k of NULLABLE) if (job[k] === undefined) (job as Record<string, unknown>)[k] = null;
  job.errors ??= [];
  job.dependsOn ??= [];
  job.attempt ??= DEFAULTS.attempt;
  job.progress ??= DEFAULTS.progress;
  job.maxAttempts ??= DEFAULTS.maxAttempts;
  job.onParentFailure ??= DEFAULTS.onParentFailure;
  job.id = cols.id;
  job.queue = cols.queue;
  job.name = cols.name;
  job.state = cols.state as Job['state'];
  job.priority = cols.priority;
  job.createdAt = cols.created_at;
  job.startBy = cols.start_by ?? null;
  return job;
}
