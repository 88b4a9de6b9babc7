/**
 * Batches: jobs added together with one callback job that runs once all of them finished
 * (completed, failed or canceled), built on dependencies: the callback depends on every
 * member with onParentFailure 'ignore', all added in one atomic enqueue. The batch's id is
 * the callback's id. When a Worker claims the callback, it fills `data.batch` with the
 * members' outcomes (ids per state), so the handler receives them.
 */
import { ValidationError } from './core/errors.ts';
import type { Job, NewJob } from './core/job.ts';
import { newJobId } from './core/job-id.ts';
import { buildNewJob, describe, type JobOptions } from './core/options.ts';
import { isFinished } from './core/states.ts';
import type { Store } from './stores/store.ts';

/**
 * Most jobs in one batch: each member finishing counts the callback's dependencies down
 * (O(1)), but the callback carries every member's id, and its run reads every member.
 */
export const MAX_BATCH = 10_000;

export interface BatchCallback {
  name: string;
  /** An object; the callback receives it with a `batch` field added. */
  data?: Record<string, unknown>;
  /** Its queue (default: the members' queue). */
  queue?: string;
  opts?: JobOptions;
}

/** What a batch's members came to; the callback's `data.batch` when it runs. */
export interface BatchStatus {
  /** The batch's id: its callback job's id. */
  id: string;
  total: number;
  completed: string[];
  failed: string[];
  canceled: string[];
  /** Members not finished yet (waiting or running). */
  pending: string[];
  /** Members gone (removed, or retention took them). */
  missing: string[];
  /** Every member finished: the callback may run. */
  done: boolean;
  /** The callback job's state. */
  callbackState: Job['state'];
}

/** The members and the callback of a new batch, as one enqueue. */
export function buildBatch(members: NewJob[], onComplete: unknown, defaultQueue: string, now: number): { id: string; jobs: NewJob[] } {
  if (members.length === 0) throw new ValidationError('a batch needs at least one job', 'jobs');
  if (members.length > MAX_BATCH) throw new ValidationError(`a batch holds at most ${MAX_BATCH} jobs; got ${members.length}`, 'jobs');
  if (onComplete === null || typeof onComplete !== 'object' || Array.isArray(onComplete)) {
    throw new ValidationError('onComplete must be {name, data?, queue?, opts?}: the job to run when every job of the batch finished', 'onComplete');
  }
  const cb = onComplete as BatchCallback;
  for (const key of Object.keys(cb)) {
    if (!['name', 'data', 'queue', 'opts'].includes(key)) throw new ValidationError(`unknown onComplete field "${key}"`, `onComplete.${key}`);
  }
  if (cb.data !== undefined && (cb.data === null || typeof cb.data !== 'object' || Array.isArray(cb.data))) {
    throw new ValidationError(`onComplete.data must be an object (it receives a batch field); got ${describe(cb.data)}`, 'onComplete.data');
  }
  const opts = cb.opts ?? {};
  if (opts === null || typeof opts !== 'object') throw new ValidationError('onComplete.opts must be an object', 'onComplete.opts');
  for (const k of ['dependsOn', 'onParentFailure', 'jobId'] as const) {
    if (k in opts) throw new ValidationError(`onComplete.opts.${k} is set by the batch`, `onComplete.opts.${k}`);
  }
  const id = newJobId(now);
  const callback = buildNewJob(
    cb.queue ?? defaultQueue,
    cb.name,
    { ...(cb.data ?? {}), batch: { id } },
    { ...opts, jobId: id, dependsOn: members.map((m) => m.id), onParentFailure: 'ignore' },
    {},
    undefined,
    now,
  );
  return { id, jobs: [...members, callback] };
}

/** A batch's callback: a job whose data names itself as the batch. */
export function isBatchCallback(job: Job): boolean {
  const d = job.data as { batch?: { id?: unknown } } | null;
  return job.dependsOn.length > 0 && d !== null && typeof d === 'object' && d.batch?.id === job.id;
}

/** The batch's status, or null when `id` is not a batch's id. */
export async function batchStatus(store: Store, id: string): Promise<BatchStatus | null> {
  const cb = await store.get(id);
  if (!cb || !isBatchCallback(cb)) return null;
  const members = await Promise.all(cb.dependsOn.map((m) => store.get(m)));
  const s: BatchStatus = { id, total: cb.dependsOn.length, completed: [], failed: [], canceled: [], pending: [], missing: [], done: false, callbackState: cb.state };
  cb.dependsOn.forEach((m, i) => {
    const j = members[i];
    if (!j) s.missing.push(m);
    else if (j.state === 'completed' || j.state === 'failed' || j.state === 'canceled') s[j.state].push(m);
    else s.pending.push(m);
  });
  s.done = s.pending.length === 0 && members.every((j) => !j || isFinished(j.state));
  return s;
}
