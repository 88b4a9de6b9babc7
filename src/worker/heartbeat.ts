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

export class Heartbeat {
  private readonly deps: HeartbeatDeps;
  private timer: Timer | null = null;

  constructor(deps: HeartbeatDeps) {
    this.deps = deps;
  }

  start(): void {
    this.timer ??= every(this.deps.clock, this.deps.intervalMs, () => void this.beat());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
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
      await store.reportWorker(this.deps.info(), this.ttlMs);
    } catch (err) {
      this.deps.onError(err);
    }
  }
}
