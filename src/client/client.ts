/**
 * What the CLI (and any remote tool) needs from Conveyor, whichever target it talks to:
 * a store opened in this process (LocalClient) or a Conveyor server (HttpClient). Both
 * answer with the same shapes, so every command prints the same thing for either.
 */
import type { BatchCallback, BatchStatus } from '../batch.ts';
import type { EnqueueResult, Job, LogLine } from '../core/job.ts';
import type { JobOptions } from '../core/options.ts';
import type { QueueConfig } from '../core/queue-config.ts';
import type { Schedule, ScheduleSpec } from '../core/schedule.ts';
import type { GroupPage, JobPage, ListFilter, QueueInfo, StateCounts, WorkerInfo } from '../stores/store.ts';

export interface NewJobSpec {
  name: string;
  data?: unknown;
  opts?: JobOptions;
}

export interface CleanSpec {
  states?: string[];
  /** ms */
  olderThan?: number;
  limit?: number;
}

export interface Stats {
  queues: Record<string, StateCounts>;
  totals: StateCounts;
  workers: number;
}

export interface Client {
  /** Where it points, for messages: a file, a Redis URL or a server URL. */
  readonly target: string;
  add(queue: string, jobs: NewJobSpec[]): Promise<EnqueueResult[]>;
  /** Adds jobs and a callback that runs once all of them finished (see Queue.addBatch). */
  addBatch(queue: string, jobs: NewJobSpec[], onComplete: BatchCallback): Promise<{ id: string; jobs: EnqueueResult[] }>;
  /** A batch's progress; null when `id` is not a batch. */
  getBatch(id: string): Promise<BatchStatus | null>;
  get(id: string): Promise<Job | null>;
  list(filter: ListFilter): Promise<JobPage>;
  queues(): Promise<QueueInfo[]>;
  stats(): Promise<Stats>;
  workers(): Promise<WorkerInfo[]>;
  logs(id: string, after?: number, limit?: number): Promise<LogLine[]>;
  cancel(id: string, reason?: string): Promise<Job>;
  retry(id: string): Promise<Job>;
  retryAll(queue: string, state?: 'failed' | 'canceled'): Promise<number>;
  promote(id: string): Promise<Job>;
  remove(id: string): Promise<void>;
  pause(queue: string): Promise<QueueConfig>;
  resume(queue: string): Promise<QueueConfig>;
  /** The groups of a queue with ready or running jobs, most ready first (Queue.groups). */
  groups(queue: string, limit?: number): Promise<GroupPage>;
  /** Changes a queue's settings (validated); returns them all. An empty patch just reads them. */
  configure(queue: string, patch: Partial<QueueConfig>): Promise<QueueConfig>;
  clean(queue: string, spec: CleanSpec): Promise<number>;
  /** Takes up to `limit` waiting jobs off the queue, marks them completed and returns them. */
  drain(queue: string, limit: number): Promise<Job[]>;
  /**
   * Files as one job (the upload API's shape: data {files: [{name, path, size, field}],
   * options}): uploaded to a server's /queue/submit, or referenced where they lie locally.
   */
  submit(queue: string, name: string, files: string[], options: Record<string, string>): Promise<EnqueueResult>;
  schedule(queue: string, id: string, spec: ScheduleSpec): Promise<Schedule>;
  /** Schedules of a queue (all queues when none given). */
  schedules(queue?: string): Promise<Schedule[]>;
  unschedule(queue: string, id: string): Promise<void>;
  pauseSchedule(queue: string, id: string): Promise<Schedule>;
  resumeSchedule(queue: string, id: string): Promise<Schedule>;
  close(): Promise<void>;
}

export function sumCounts(all: Record<string, StateCounts>): StateCounts {
  const totals = { pending: 0, scheduled: 0, deferred: 0, queued: 0, active: 0, completed: 0, failed: 0, canceled: 0 };
  for (const c of Object.values(all)) for (const k of Object.keys(totals) as (keyof StateCounts)[]) totals[k] += c[k];
  return totals;
}
