/**
 * What every backend checks and encodes alike: cursors, and page and log limits.
 * Outcomes and admission are decided in src/engine/.
 */
import { ValidationError } from '../core/errors.ts';
import type { EnqueueOptions, GroupCounts } from './store.ts';

/** Stores that cannot join the caller's transaction say so instead of adding outside it. */
export function refuseTx(options: EnqueueOptions | undefined, kind: string): void {
  if (options?.tx !== undefined) {
    throw new ValidationError(`the ${kind} store cannot add jobs inside your transaction (tx): that takes the PostgreSQL store, or SQLite with your own DatabaseSync`, 'tx');
  }
}

/** Cursors are opaque to callers; stores put a sort key and an id in them. */
export function encodeCursor(key: number, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

export function decodeCursor(cursor: string | null | undefined): [number, string] | null {
  if (!cursor) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString());
    if (Array.isArray(v) && typeof v[0] === 'number' && typeof v[1] === 'string') return [v[0], v[1]];
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('cursor is not one this server gave out', 'cursor');
}

export const MAX_LOG_LINES = 10_000;
export const MAX_LOG_LINE_LENGTH = 8_192;
export const MAX_PAGE = 1000;

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE}`, 'limit');
  return limit;
}

export function clampProgress(p: number): number {
  if (typeof p !== 'number' || !Number.isFinite(p)) throw new ValidationError('progress must be a number from 0 to 100', 'progress');
  return Math.max(0, Math.min(100, p));
}

export function truncateLine(line: string): string {
  return line.length > MAX_LOG_LINE_LENGTH ? line.slice(0, MAX_LOG_LINE_LENGTH) + '…' : line;
}

/** Jobs per state a store without a per-group index looks at for Store.groups. */
export const GROUPS_SAMPLE = 10_000;

/** Orders and cuts group counts as Store.groups answers them: most ready first. */
export function topGroups(counts: Map<string, GroupCounts>, limit = 50): GroupCounts[] {
  return [...counts.values()].sort((a, b) => b.queued - a.queued || b.active - a.active || (a.group < b.group ? -1 : 1)).slice(0, limit);
}

/** Adds one job of `group` in `state` to the counts. */
export function countGroup(counts: Map<string, GroupCounts>, group: string, state: 'queued' | 'active', n = 1): void {
  let c = counts.get(group);
  if (!c) counts.set(group, (c = { group, queued: 0, active: 0 }));
  c[state] += n;
}
