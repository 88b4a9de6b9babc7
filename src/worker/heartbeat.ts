/**
 * One heartbeat per worker, not per job: every interval it extends all running jobs'
 * leases in one store call and reports the worker. A lease the store refuses is lost
 * (canceled, removed or taken over after a stall): the job is aborted.
 */
import { every, type Clock, type Timer } from '../core/clock.ts';
import type { Lease, Store, WorkerInfo } from '../stores/store.ts';

export interface HeartbeatDeps {
  store: Store;
  clock: Clock;
  intervalMs: number;
  leaseMs: number;
  leases(): Lease[];
  lost(id: string): void;
  info(): WorkerInfo;
  onError(err: unknown): void;
}

/** Least time between two reports of the worker outside its beats (reportSoon). */
export const REPORT_GAP_MS = 1_000;

export class Heartbeat {
  private readonly deps: HeartbeatDeps;
  private timer: Timer | null = null;
  private soon: Timer | null = null;
  private lastReport = -Infinity;
  /** Beats and reports in flight: a report that lands after removeWorker would bring the worker back. */
  private readonly inflight = new Set<Promise<void>>();

  constructor(deps: HeartbeatDeps) {
    this.deps = deps;
  }

  start(): void {
    this.timer ??= every(this.deps.clock, this.deps.intervalMs, () => void this.track(this.beat()));
  }

  /** Resolves when no beat or report is in flight (after stop(), none starts). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
  }

  private track(p: Promise<void>): Promise<void> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.soon?.cancel();
    this.soon = null;
  }

  /**
   * Reports the worker (its counts) now, or, when the last report is under REPORT_GAP_MS
   * old, once that much time has passed: a worker that goes idle after every job would
   * otherwise write a report per job, a round trip each on a networked store.
   */
  reportSoon(): void {
    if (this.soon) return;
    const wait = this.lastReport + REPORT_GAP_MS - this.deps.clock.now();
    if (wait <= 0) {
      void this.track(this.report());
      return;
    }
    this.soon = this.deps.clock.setTimer(() => {
      this.soon = null;
      void this.track(this.report());
    }, wait);
  }

  private async report(): Promise<void> {
    this.lastReport = this.deps.clock.now();
    try {
      await this.deps.store.reportWorker(this.deps.info(), this.ttlMs);
    } catch (err) {
      this.deps.onError(err);
    }
  }

  /** How long the store keeps showing the worker without a beat. */
  get ttlMs(): number {
    return this.deps.intervalMs * 3;
  }

  async beat(): Promise<void> {
    const { store } = this.deps;
    const leases = this.deps.leases();
    try {
      if (leases.length > 0) {
        const held = await store.extend(leases, this.deps.leaseMs);
        held.forEach((ok, i) => ok || this.deps.lost(leases[i].id));
      }
      this.lastReport = this.deps.clock.now();
      await store.reportWorker(this.deps.info(), this.ttlMs);
    } catch (err) {
      this.deps.onError(err);
    }
  }
}
