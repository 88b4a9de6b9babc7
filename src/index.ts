/**
 * Conveyor's public API. Everything a user imports comes from here; anything not exported
 * here is internal and may change.
 */
export { Queue, type QueueOptions, type BulkJob, type ListOptions, type CleanOptions, type QueueEvents } from './queue.ts';
export { Worker, type WorkerOptions, type HandlerSpec, type BackoffFn, type WorkerEvents } from './worker.ts';
export type { HandlerFn, JobContext, Runner } from './runners/runner.ts';
export { InlineRunner } from './runners/inline.ts';
export type { Job, ClaimedJob, Backoff, JobError, LogLine, LogStream, EnqueueResult, ParentFailurePolicy } from './core/job.ts';
export type { JobOptions } from './core/options.ts';
export type { QueueConfig } from './core/queue-config.ts';
export { JOB_STATES, FINISHED_STATES, parseState, type JobState } from './core/states.ts';
export {
  ConveyorError,
  ValidationError,
  NotFoundError,
  StateError,
  QueueFullError,
  ConnectionError,
  TimeoutError,
  AbortedError,
  UnrecoverableError,
} from './core/errors.ts';
export type { Store, JobEvent, JobEventType, JobPage, StateCounts, QueueInfo, WorkerInfo } from './stores/store.ts';
export { MemoryStore } from './stores/memory/memory-store.ts';
