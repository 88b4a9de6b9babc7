/**
 * A job's `doc` column: the Job without its data and log count, and without the fields
 * that still hold their defaults. Most of a fresh job is null; leaving those out takes a
 * row from ~800 to ~500 bytes, and a claim or finish batch writes (and commits) a page per
 * few rows. Documents written in full (before this) read back the same.
 */
import type { Job } from '../../core/job.ts';

/** Fields left out while they are null. */
const NULLABLE = [
  'runAt', 'backoff', 'timeoutMs', 'message', 'result', 'startedAt', 'finishedAt', 'workerId', 'leaseUntil',
  'groupKey', 'resultTtlMs', 'failureTtlMs', 'expiresAt',
] as const;

export function encodeDoc(job: Job): string {
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(job)) {
    if (k === 'data' || k === 'logCount' || v === null) continue;
    if ((k === 'errors' || k === 'dependsOn') && (v as unknown[]).length === 0) continue;
    doc[k] = v;
  }
  return JSON.stringify(doc);
}

/** The Job a document describes; `data` and `logCount` are the caller's to fill. */
export function decodeDoc(text: string): Job {
  const job = JSON.parse(text) as Job & Record<string, unknown>;
  for (const k of NULLABLE) if (job[k] === undefined) (job as Record<string, unknown>)[k] = null;
  job.errors ??= [];
  job.dependsOn ??= [];
  job.attempt ??= 0;
  job.progress ??= 0;
  return job;
}
