import type { Backoff } from '../core/job.ts';

/**
 * Delay before the retry that follows `attempt` failed attempts (attempt >= 1).
 * `random` is injectable so tests can pin the jitter.
 */
export function backoffDelay(backoff: Backoff | null, attempt: number, random: () => number = Math.random): number {
  if (!backoff) return 0;
  let delay: number;
  switch (backoff.type) {
    case 'fixed':
      delay = backoff.delay;
      break;
    case 'exponential':
      delay = Math.min(backoff.delay * 2 ** Math.max(0, attempt - 1), backoff.maxDelay ?? Number.MAX_SAFE_INTEGER);
      break;
    case 'intervals': {
      const list = backoff.intervals;
      delay = list.length === 0 ? 0 : list[Math.min(attempt, list.length) - 1];
      break;
    }
    case 'custom':
      // The worker that registered the function passes its result explicitly; anywhere
      // else (a lease expiring under maintain) the stored fallback delay applies.
      delay = backoff.delay ?? 0;
      break;
  }
  const jitter = 'jitter' in backoff ? (backoff.jitter ?? 0) : 0;
  if (jitter > 0) delay = delay * (1 - jitter + 2 * jitter * random());
  return Math.max(0, Math.round(delay));
}
