/**
 * The key layout, one place for JS and (by the same names) the Lua scripts.
 *
 * Every key of a prefix lives under the hash tag `{prefix}`, so a whole Conveyor namespace
 * sits in one Cluster slot: claim spans several queues, dependencies cross queues, and one
 * XREAD watches many marker streams plus the event stream, all of which need one slot.
 * docs/stores-redis.md explains the trade-off (scale out with more prefixes).
 */
import type { JobState } from '../../core/states.ts';

export class Keys {
  /** `{prefix}:` — the start of every key; the Lua scripts get it as ARGV[1]. */
  readonly base: string;
  readonly events: string;
  /** Cancels and removals only, a copy of theirs in `events` (lua/header.ts CONTROL_EVENTS). */
  readonly control: string;
  /** The layout version of the prefix's data (layout.ts). */
  readonly layout: string;
  readonly queues: string;
  readonly workers: string;
  readonly workersUntil: string;
  /** Hashes of schedules by `queue\nid`: their specs, and their progress (see lua/advance-schedule.lua). */
  readonly schedules: string;
  readonly scheduleProgress: string;

  constructor(prefix: string) {
    this.base = `{${prefix}}:`;
    this.events = `${this.base}events`;
    this.control = `${this.base}control`;
    this.layout = `${this.base}layout`;
    this.queues = `${this.base}queues`;
    this.workers = `${this.base}workers`;
    this.workersUntil = `${this.base}workers:until`;
    this.schedules = `${this.base}schedules`;
    this.scheduleProgress = `${this.base}schedules:progress`;
  }

  job(id: string): string {
    return `${this.base}job:${id}`;
  }

  /** A job's data, result and errors: its long values, kept out of its hash. */
  data(id: string): string {
    return `${this.base}data:${id}`;
  }

  result(id: string): string {
    return `${this.base}result:${id}`;
  }

  errors(id: string): string {
    return `${this.base}errors:${id}`;
  }

  /** Jobs that wait on this one (until it finishes). */
  children(id: string): string {
    return `${this.base}children:${id}`;
  }

  logs(id: string): string {
    return `${this.base}logs:${id}`;
  }

  /** Jobs of one queue in one state, scored by creation sequence (not active: see lease). */
  state(state: JobState, queue: string): string {
    return `${this.base}st:${state}:${queue}`;
  }

  /** Active jobs of a queue, scored by lease end: the only set that holds them. */
  lease(queue: string): string {
    return `${this.base}lease:${queue}`;
  }

  /** The set whose size is the queue's count of jobs in `state`. */
  counted(state: JobState, queue: string): string {
    return state === 'active' ? this.lease(queue) : this.state(state, queue);
  }

  config(queue: string): string {
    return `${this.base}config:${queue}`;
  }

  /** Finished jobs of a queue per minute of one day (Store.history): fields `<minute>:c|f`. */
  minutes(queue: string, day: number): string {
    return `${this.base}minutes:${queue}:${day}`;
  }

  marker(queue: string): string {
    return `${this.base}marker:${queue}`;
  }

  /** The private stream one store writes to interrupt its own blocking read. */
  wake(storeId: string): string {
    return `${this.base}wake:${storeId}`;
  }

  /** Workers parked on a queue, waiting for its work to be handed to them (zset by deadline). */
  idle(queue: string): string {
    return `${this.base}idle:${queue}`;
  }

  /** Jobs handed to one store's parked workers (see handoffs.ts). */
  hand(storeId: string): string {
    return `${this.base}hand:${storeId}`;
  }

  /** Every key of this prefix, for SCAN MATCH (the braces are literal in a glob). */
  get pattern(): string {
    return `${this.base}*`;
  }
}
