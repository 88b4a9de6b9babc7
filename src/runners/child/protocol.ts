/**
 * What the parent (a ThreadRunner or ProcessRunner) and its thread or child say to each
 * other. Every job-scoped message carries the job's `seq` on that host, so a late message
 * from a job that was stopped can never be taken for the next job's.
 */
import type { Job, LogStream } from '../../core/job.ts';
import type { WireError } from './wire-error.ts';

export type ParentMessage =
  | { type: 'run'; seq: number; module: string; export: string; job: Job }
  | { type: 'abort'; seq: number; reason: WireError };

export type ChildMessage =
  | { type: 'progress'; seq: number; percent: number; message?: string | null }
  | { type: 'log'; seq: number; line: string; stream: LogStream }
  | DoneMessage
  /** An uncaught error is about to end the child: the parent puts it in the job's error. */
  | { type: 'fatal'; error: WireError };

export type DoneMessage = { type: 'done'; seq: number; ok: true; result: unknown } | { type: 'done'; seq: number; ok: false; error: WireError };

/**
 * Markers the child writes on stdout and stderr around each job. IPC messages and the
 * output pipes are separate channels with no order between them, so the parent cannot
 * tell from timing which job printed a line; the markers say it exactly. NUL never
 * appears in ordinary text output.
 */
export const MARK = '\u0000conveyor:';

export function marker(kind: 'start' | 'end', seq: number): string {
  return `${MARK}${kind}:${seq}\u0000\n`;
}
