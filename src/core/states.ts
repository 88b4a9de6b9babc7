/**
 * The one canonical set of job states and the transitions between them. Every backend
 * applies these rules; the contract suite checks them.
 */
export const JOB_STATES = [
  'pending', // added with `start: false`; runs only after start()/promote()
  'scheduled', // runAt in the future: delay, retry backoff
  'deferred', // waiting for its dependencies to complete
  'queued', // ready to be claimed
  'active', // leased by a worker
  'completed',
  'failed',
  'canceled', // canceled while waiting, or stopped while running
] as const;

export type JobState = (typeof JOB_STATES)[number];

export const FINISHED_STATES: readonly JobState[] = ['completed', 'failed', 'canceled'];
export const WAITING_STATES: readonly JobState[] = ['pending', 'scheduled', 'deferred', 'queued'];
/** States that count against a queue's max size ("unfinished"). */
export const UNFINISHED_STATES: readonly JobState[] = [...WAITING_STATES, 'active'];

export function isJobState(value: unknown): value is JobState {
  return typeof value === 'string' && (JOB_STATES as readonly string[]).includes(value);
}

export function isFinished(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'canceled';
}

/**
 * Which states each operation accepts. Stores check these before changing a job; an
 * operation on a job in any other state is a no-op reported back to the caller.
 */
export const TRANSITIONS = {
  cancel: ['pending', 'scheduled', 'deferred', 'queued', 'active'],
  promote: ['pending', 'scheduled'],
  retry: ['failed', 'canceled'],
  claim: ['queued'],
  finish: ['active'],
} as const satisfies Record<string, readonly JobState[]>;

export function canTransition(op: keyof typeof TRANSITIONS, state: JobState): boolean {
  return (TRANSITIONS[op] as readonly JobState[]).includes(state);
}

/** The names other queues use, mapped onto ours (docs/concepts.md explains them). */
export const STATE_ALIASES: Record<string, JobState> = {
  waiting: 'queued',
  wait: 'queued',
  started: 'active',
  running: 'active',
  finished: 'completed',
  done: 'completed',
  delayed: 'scheduled',
  stopped: 'canceled',
  cancelled: 'canceled',
  processing: 'active',
};

/** Accepts our state names and other tools' aliases (RQ's `started`, a job manager's `stopped`...). */
export function parseState(value: string): JobState | undefined {
  const v = value.trim().toLowerCase();
  if (isJobState(v)) return v;
  return STATE_ALIASES[v];
}
