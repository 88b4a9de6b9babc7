/**
 * Dedupe keys (JobOptions.dedupe): the part of an add that every store decides the same
 * way, before its JobMachine adds the rest. A store keeps one entry per (queue, key): the
 * job that took the key and until when the key holds at most. The Redis store applies the
 * same rule in its enqueue script (lua/enqueue.lua).
 */
import type { DedupeMode, EnqueueResult, NewJob } from '../core/job.ts';
import { isFinished, WAITING_STATES, type JobState } from '../core/states.ts';

export interface DedupeEntry {
  id: string;
  /** The key holds until then at most (null: no time cap). */
  until: number | null;
}

/** Whether a key taken by a job in `state` (undefined: the job is gone) still holds. */
export function keyHolds(entry: DedupeEntry, state: JobState | undefined, mode: DedupeMode, now: number): boolean {
  if (state === undefined) return false;
  if (entry.until !== null && entry.until <= now) return false;
  if (mode === 'window') return true;
  if (mode === 'waiting') return (WAITING_STATES as readonly string[]).includes(state);
  return !isFinished(state);
}

/**
 * Whether upkeep may forget an entry: its job is gone, its time cap passed, or (without a
 * cap) its job finished. A capped key outlives its job: a 'window' add still sees it.
 */
export function keyIsSpent(entry: DedupeEntry, state: JobState | undefined, now: number): boolean {
  if (state === undefined) return true;
  return entry.until !== null ? entry.until <= now : isFinished(state);
}

export interface DedupePlan {
  /** The jobs to add (those without a key, or whose key is free). */
  fresh: NewJob[];
  /** Answers for the jobs whose key holds, by their index in the batch. */
  answers: Map<number, EnqueueResult>;
  /** The entries to write once the fresh jobs are added: key → (id, until). */
  take: { queue: string; key: string; entry: DedupeEntry }[];
  /** Debounced adds: the waiting job takes this data and run time (JobMachine.debounce). */
  push: { id: string; dataJson: string; runAt: number }[];
}

/**
 * Debounce keys share the dedupe entries under a name no dedupe key can have (keys cannot
 * contain braces), so one table or hash serves both.
 */
export function debounceSlot(key: string): string {
  return `{debounce}${key}`;
}

/**
 * Splits a batch into jobs to add and duplicates. A key taken earlier in the same batch
 * holds for the later jobs too (they answer with the earlier job).
 */
export function planDedupe(
  jobs: NewJob[],
  now: number,
  lookup: (queue: string, key: string) => DedupeEntry | null,
  stateOf: (id: string) => JobState | undefined,
): DedupePlan {
  // The common batch names no key: nothing to decide (enqueue is a hot path).
  if (!jobs.some((nj) => nj.dedupeBy !== null || nj.debounceBy !== null)) return { fresh: jobs, answers: new Map(), take: [], push: [] };
  const plan: DedupePlan = { fresh: [], answers: new Map(), take: [], push: [] };
  const taken = new Map<string, DedupeEntry>();
  const debounced = new Map<string, number>(); // slot → index in plan.fresh of the batch's job
  jobs.forEach((nj, i) => {
    const b = nj.debounceBy;
    if (b) {
      const key = debounceSlot(b.key);
      const slot = `${nj.queue}\u0000${key}`;
      const earlier = debounced.get(slot);
      if (earlier !== undefined) {
        // Twice in one batch: the job added earlier takes the later data and run time.
        const first = plan.fresh[earlier];
        plan.fresh[earlier] = { ...first, dataJson: nj.dataJson, runAt: nj.runAt, startBy: nj.startBy };
        plan.answers.set(i, { id: first.id, state: 'scheduled', duplicate: true, debounced: true });
        return;
      }
      const entry = lookup(nj.queue, key);
      if (entry && stateOf(entry.id) === 'scheduled') {
        plan.push.push({ id: entry.id, dataJson: nj.dataJson, runAt: nj.runAt! });
        plan.answers.set(i, { id: entry.id, state: 'scheduled', duplicate: true, debounced: true });
        return;
      }
      debounced.set(slot, plan.fresh.length);
      plan.fresh.push(nj);
      plan.take.push({ queue: nj.queue, key, entry: { id: nj.id, until: null } });
      return;
    }
    const d = nj.dedupeBy;
    if (!d) {
      plan.fresh.push(nj);
      return;
    }
    const slot = `${nj.queue}\u0000${d.key}`;
    const inBatch = taken.get(slot);
    const entry = inBatch ?? lookup(nj.queue, d.key);
    const state = inBatch ? 'queued' : entry ? stateOf(entry.id) : undefined;
    if (entry && keyHolds(entry, state, d.mode, now)) {
      plan.answers.set(i, { id: entry.id, state: inBatch ? (state as JobState) : state!, duplicate: true });
      return;
    }
    const own = { id: nj.id, until: d.ttlMs === null ? null : now + d.ttlMs };
    taken.set(slot, own);
    plan.fresh.push(nj);
    plan.take.push({ queue: nj.queue, key: d.key, entry: own });
  });
  return plan;
}

/**
 * The batch's answers in order (the duplicates' and, for the rest, the store's), and the
 * key entries to write: those of jobs actually added (not an existing `jobId`).
 */
export function settleDedupe(count: number, plan: DedupePlan, added: EnqueueResult[]): { results: EnqueueResult[]; take: DedupePlan['take'] } {
  if (plan.answers.size === 0 && plan.take.length === 0) return { results: added, take: [] };
  const byId = new Map(added.map((r) => [r.id, r]));
  const results: EnqueueResult[] = [];
  let k = 0;
  for (let i = 0; i < count; i++) {
    const dup = plan.answers.get(i);
    // A duplicate of a job added earlier in this batch answers with that job's first state.
    results.push(dup ? { ...dup, state: byId.get(dup.id)?.state ?? dup.state } : added[k++]);
  }
  return { results, take: plan.take.filter((t) => byId.get(t.entry.id)?.duplicate === false) };
}
