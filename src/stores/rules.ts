/**
 * What every backend checks and encodes alike: cursors, and page and log limits.
 * Outcomes and admission are decided in src/engine/.
 */
import { ValidationError } from '../core/errors.ts';

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
