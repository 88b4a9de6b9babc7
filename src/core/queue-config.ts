import { ValidationError } from './errors.ts';
import { describe } from './options.ts';

/** Settings of one queue, stored with the queue and honoured by enqueue and claim. */
export interface QueueConfig {
  paused: boolean;
  /** Most jobs of this queue active at once across all workers (null: no limit). */
  concurrency: number | null;
  /** Most jobs of one group active at once (null: no limit). */
  groupConcurrency: number | null;
  /** At most `max` claims per `durationMs` window (null: no limit). */
  rateLimit: { max: number; durationMs: number } | null;
  /** Most unfinished jobs (waiting + active); null: no limit. */
  maxSize: number | null;
  /** What an add does when a limit is reached: refuse it, or evict the oldest waiting job. */
  overflow: 'reject' | 'evict-oldest';
  /** Most unfinished jobs per job name (a job manager's per_job_type_limits). */
  typeLimits: Record<string, number>;
  /** Default retention of completed jobs, ms (null: keep). */
  resultTtlMs: number | null;
  /** Default retention of failed/canceled jobs, ms (null: keep). */
  failureTtlMs: number | null;
}

export const DEFAULT_QUEUE_CONFIG: QueueConfig = {
  paused: false,
  concurrency: null,
  groupConcurrency: null,
  rateLimit: null,
  maxSize: null,
  overflow: 'reject',
  typeLimits: {},
  resultTtlMs: null,
  failureTtlMs: null,
};

function posIntOrNull(v: unknown, field: string): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1e9) {
    throw new ValidationError(`${field} must be a positive integer or null; got ${describe(v)}`, field);
  }
  return v;
}

function msOrNull(v: unknown, field: string): number | null {
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ValidationError(`${field} must be ms >= 0 or null; got ${describe(v)}`, field);
  return Math.round(v);
}

/** Validates a partial update of a queue's settings. */
export function validateQueueConfigPatch(patch: unknown): Partial<QueueConfig> {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) throw new ValidationError('queue settings must be an object', 'settings');
  const p = patch as Record<string, unknown>;
  const out: Partial<QueueConfig> = {};
  for (const [key, v] of Object.entries(p)) {
    switch (key) {
      case 'paused':
        if (typeof v !== 'boolean') throw new ValidationError('paused must be true or false', key);
        out.paused = v;
        break;
      case 'concurrency':
      case 'groupConcurrency':
      case 'maxSize':
        out[key] = posIntOrNull(v, key);
        break;
      case 'resultTtlMs':
      case 'failureTtlMs':
        out[key] = msOrNull(v, key);
        break;
      case 'overflow':
        if (v !== 'reject' && v !== 'evict-oldest') throw new ValidationError('overflow must be "reject" or "evict-oldest"', key);
        out.overflow = v;
        break;
      case 'rateLimit': {
        if (v === null) {
          out.rateLimit = null;
          break;
        }
        const r = v as Record<string, unknown>;
        if (typeof v !== 'object') throw new ValidationError('rateLimit must be {max, durationMs} or null', key);
        out.rateLimit = { max: posIntOrNull(r.max, 'rateLimit.max') ?? 1, durationMs: posIntOrNull(r.durationMs, 'rateLimit.durationMs') ?? 1 };
        break;
      }
      case 'typeLimits': {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ValidationError('typeLimits must be an object of name: max', key);
        const limits: Record<string, number> = {};
        for (const [name, max] of Object.entries(v)) limits[name] = posIntOrNull(max, `typeLimits.${name}`) ?? 1;
        out.typeLimits = limits;
        break;
      }
      default:
        throw new ValidationError(`unknown queue setting "${key}"`, key);
    }
  }
  return out;
}
