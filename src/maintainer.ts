/**
 * The Maintainer does a store's upkeep: adds the jobs of due schedules (scheduler.ts),
 * promotes due jobs, reclaims expired leases, applies retention, forgets silent workers
 * (`Store.maintain`). However many processes
 * run one, a leadership lease held in the store lets one of them at a time do the work,
 * and the next takes over when that one falls silent. `conveyor serve` always runs one,
 * each Worker runs one unless told not to, and a library user can run one alone.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { every, type Clock, type Timer } from './core/clock.ts';
import { ValidationError } from './core/errors.ts';
import { runSchedules } from './scheduler.ts';
import type { MaintainReport, Store } from './stores/store.ts';

/** The role the maintainers of one store elect a holder for. */
export const MAINTAINER_ROLE = 'maintainer';

/** What one round did. */
export interface UpkeepReport extends MaintainReport {
  /** Jobs added by schedules. */
  scheduled: number;
  /** Schedule runs skipped (overlap, missed while nothing ran, a full queue). */
  skipped: number;
}

export interface MaintainerOptions {
  /** How often the leader runs upkeep, and the others ask whether they lead (default 5 s). */
  intervalMs?: number;
  /** How long the leadership lasts without renewal (default 3 intervals). */
  leaseMs?: number;
  /** Default: the store's clock. */
  clock?: Clock;
  /** Told about each failed round (the next round tries again). */
  onError?: (err: Error) => void;
  /** Told after each round this maintainer ran as leader. */
  onReport?: (report: UpkeepReport) => void;
}

export class Maintainer {
  readonly id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly store: Store;
  private readonly intervalMs: number;
  private readonly leaseMs: number;
  private readonly clock: Clock;
  private readonly onError: (err: Error) => void;
  private readonly onReport: (report: UpkeepReport) => void;
  private timer: Timer | null = null;
  private round: Promise<UpkeepReport | null> | null = null;
  private leading = false;

  constructor(store: Store, options: MaintainerOptions = {}) {
    this.store = store;
    this.intervalMs = positive(options.intervalMs ?? 5_000, 'intervalMs');
    this.leaseMs = positive(options.leaseMs ?? this.intervalMs * 3, 'leaseMs');
    if (this.leaseMs <= this.intervalMs) throw new ValidationError('leaseMs must be longer than intervalMs, or leadership lapses between rounds', 'leaseMs');
    this.clock = options.clock ?? store.clock;
    this.onError = options.onError ?? (() => {});
    this.onReport = options.onReport ?? (() => {});
  }

  /** True while this maintainer held the leadership at its last round. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Runs a round now, then one every interval until stop(). */
  start(): void {
    if (this.timer) return;
    this.timer = every(this.clock, this.intervalMs, () => void this.runOnce());
    void this.runOnce();
  }

  /**
   * One round: take or renew the leadership, and if this maintainer has it, run upkeep.
   * Resolves with the report, or null when another process leads. Rounds never overlap.
   */
  runOnce(): Promise<UpkeepReport | null> {
    this.round ??= this.doRound().finally(() => (this.round = null));
    return this.round;
  }

  private async doRound(): Promise<UpkeepReport | null> {
    try {
      this.leading = await this.store.lead(MAINTAINER_ROLE, this.id, this.leaseMs);
      if (!this.leading) return null;
      // A tick later than two rounds counts as missed (no process did upkeep in time).
      const ticks = await runSchedules(this.store, this.clock.now(), this.intervalMs * 2, this.onError);
      const report = { ...(await this.store.maintain(this.clock.now())), scheduled: ticks.runs, skipped: ticks.skips };
      this.onReport(report);
      return report;
    } catch (err) {
      this.onError(err instanceof Error ? err : new Error(String(err)));
      return null;
    }
  }

  /** Stops the rounds and hands the leadership over at once. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.round;
    if (this.leading) {
      this.leading = false;
      await this.store.resign(MAINTAINER_ROLE, this.id).catch((err) => this.onError(err as Error));
    }
  }
}

function positive(v: number, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValidationError(`${field} must be a positive integer (ms)`, field);
  return v;
}
