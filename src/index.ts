/**
 * Conveyor's public API. Everything a user imports comes from here; anything not exported
 * here is internal and may change.
 */
export { Queue, type QueueOptions, type AddOptions, type BulkJob, type ListOptions, type CleanOptions, type QueueEvents, type QueueLatency } from './queue.ts';
export { Worker, type WorkerOptions, type HandlerSpec, type BackoffFn, type WorkerEvents } from './worker/worker.ts';
export type { HandlerFn, JobContext, Runner } from './runners/runner.ts';
export { InlineRunner } from './runners/inline.ts';
export type { Job, ClaimedJob, Backoff, JobError, LogLine, LogStream, EnqueueResult, ParentFailurePolicy, DedupeMode } from './core/job.ts';
export type { JobOptions } from './core/options.ts';
export type { Schedule, ScheduleSpec, OverlapPolicy, CatchUpPolicy } from './core/schedule.ts';
export type { QueueConfig } from './core/queue-config.ts';
export type { BatchCallback, BatchStatus } from './batch.ts';
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
  StorageError,
} from './core/errors.ts';
export type { Store, EnqueueOptions, JobEvent, JobEventType, JobPage, StateCounts, QueueInfo, WorkerInfo, MaintainReport, GroupPage, GroupCounts } from './stores/store.ts';
// Backends load only when opened (openStore), so `import 'conveyor'` never loads ioredis or
// node:sqlite. Their classes are at 'conveyor/memory', 'conveyor/sqlite' and 'conveyor/redis'.
export type { MemoryStoreOptions } from './stores/memory/memory-store.ts';
export type { SqliteOptions } from './stores/sqlite/sqlite-store.ts';
export type { RedisStoreOptions } from './stores/redis/redis-store.ts';
export { openStore, openStoreWaiting, type OpenStoreOptions, type WaitForStore } from './stores/open.ts';
export { Maintainer, type MaintainerOptions, type UpkeepReport } from './maintainer.ts';
export { systemClock, TestClock, type Clock, type Timer } from './core/clock.ts';
export { createRunner } from './runners/create.ts';
export { ThreadRunner } from './runners/thread.ts';
export { ProcessRunner } from './runners/process.ts';
export { ChildExitError } from './runners/child/host.ts';
export { JobManager, type ManagerOptions, type CommandSpec, type RunOptions, type RunOutcome } from './manager.ts';
export { SharedQueue, SharedQueueError, Empty, Full, ItemTooLarge, type RawItemHandler, type SharedQueueHandle, type SharedQueueMetrics } from './shared-queue/index.ts';
export { HttpClient } from './client/http.ts';
