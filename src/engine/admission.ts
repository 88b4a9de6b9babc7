/**
 * Admission: whether a batch of new jobs may enter their queues (dependencies exist, max
 * size and per-type limits hold), decided before anything is written. Stores answer the
 * questions (AdmissionView); the Redis store asks the same ones inside its enqueue script,
 * where they must be atomic with the write.
 */
import { NotFoundError, QueueFullError } from '../core/errors.ts';
import type { NewJob } from '../core/job.ts';
import type { QueueConfig } from '../core/queue-config.ts';

/** What a store answers so `admit` can apply a queue's size and per-type limits. */
export interface AdmissionView {
  exists(id: string): boolean;
  config(queue: string): QueueConfig;
  /** Unfinished jobs of the queue (of one name when given). */
  unfinished(queue: string, name?: string): number;
  /** Ids of the oldest waiting jobs (of one name when given), skipping `skip`. */
  oldestWaiting(queue: string, name: string | undefined, n: number, skip: ReadonlySet<string>): string[];
}

/**
 * Checks a whole batch before anything is written: dependencies exist, and each queue's
 * max size and per-type limits hold (refuse, or evict the oldest waiting jobs).
 * Returns the ids to evict; throws NotFoundError / QueueFullError and then nothing changes.
 */
export function admit(jobs: NewJob[], view: AdmissionView): string[] {
  const batchIds = new Set<string>();
  const growth = new Map<string, { total: number; byName: Map<string, number> }>();
  for (const nj of jobs) {
    if (batchIds.has(nj.id) || view.exists(nj.id)) continue;
    for (const d of nj.dependsOn) {
      if (!batchIds.has(d) && !view.exists(d)) throw new NotFoundError(`job ${nj.id} depends on ${d}, which does not exist`);
    }
    batchIds.add(nj.id);
    const g = growth.get(nj.queue) ?? { total: 0, byName: new Map<string, number>() };
    g.total++;
    g.byName.set(nj.name, (g.byName.get(nj.name) ?? 0) + 1);
    growth.set(nj.queue, g);
  }
  const evict = new Set<string>();
  for (const [queue, g] of growth) {
    const cfg = view.config(queue);
    const plan = (over: number, name: string | undefined, what: string) => {
      if (over <= 0) return;
      if (cfg.overflow === 'reject') throw new QueueFullError(`${what}; the add was refused`);
      const victims = view.oldestWaiting(queue, name, over, evict);
      if (victims.length < over) throw new QueueFullError(`${what} and not enough waiting jobs can be evicted`);
      for (const v of victims) evict.add(v);
    };
    if (cfg.maxSize !== null) plan(view.unfinished(queue) + g.total - cfg.maxSize, undefined, `queue ${queue} is full (max size ${cfg.maxSize})`);
    for (const [name, n] of g.byName) {
      const limit = cfg.typeLimits[name];
      if (limit !== undefined) plan(view.unfinished(queue, name) + n - limit, name, `queue ${queue} holds its limit of ${limit} unfinished "${name}" jobs`);
    }
  }
  return [...evict];
}
