/**
 * Which claims a worker makes for its free slots. Usually one; a type with its own
 * concurrency gets its own claim, so a single batch can never overshoot that type's limit.
 */
import type { TypeRunner } from './options.ts';

export interface ClaimPlan {
  /** Only these job names (undefined: any). */
  names: string[] | undefined;
  limit: number;
}

export function claimRequests(runners: ReadonlyMap<string, TypeRunner>, runningByName: ReadonlyMap<string, number>, free: number): ClaimPlan[] {
  const limited: { name: string; room: number }[] = [];
  const open: string[] = [];
  for (const [name, r] of runners) {
    if (name === '*') continue;
    if (r.concurrency === null) open.push(name);
    else limited.push({ name, room: r.concurrency - (runningByName.get(name) ?? 0) });
  }
  if (runners.has('*')) {
    // The catch-all may take any name, so it takes no more than the tightest type allows.
    const limit = Math.min(free, ...limited.map((l) => l.room));
    return limit > 0 ? [{ names: undefined, limit }] : [];
  }
  const requests: ClaimPlan[] = open.length > 0 ? [{ names: open, limit: free }] : [];
  for (const l of limited) if (l.room > 0) requests.push({ names: [l.name], limit: l.room });
  return requests;
}
