/**
 * Writes what running jobs report: progress and log lines, then each outcome, both
 * group-committed (see Batcher) so many jobs finishing together cost one store call.
 * A job's updates land before its outcome.
 *
 * Where the store writes outcomes and claims in one call (Store.finishAndClaimInOneCall),
 * a batch of outcomes may carry the worker's next claim (`rider`): one round trip per cycle.
 */
import { Batcher } from '../core/batcher.ts';
import type { ClaimedJob } from '../core/job.ts';
import type { ClaimRequest, JobUpdate, Outcome, Store } from '../stores/store.ts';

/** A claim that travels with a batch of outcomes; the Worker reserved its slots. */
export interface Rider {
  request: ClaimRequest;
  /** The claim's jobs, or its error (the outcomes then failed with it too). */
  done(jobs: ClaimedJob[], err?: unknown): void;
}

export class Completer {
  private readonly store: Store;
  private readonly finisher: Batcher<Outcome, boolean>;
  private readonly updater: Batcher<JobUpdate, boolean>;
  private readonly onError: (err: unknown) => void;
  /** Outcomes handed over and not yet written. */
  writing = 0;
  /** Outcomes handed over and not yet sent to the store. */
  private queued = 0;
  /** Asked at each write of outcomes for a claim to send with them (null: none). */
  rider: (() => Rider | null) | null = null;

  constructor(store: Store, onError: (err: unknown) => void) {
    this.store = store;
    this.finisher = new Batcher((o) => this.send(o), 1000);
    this.updater = new Batcher((u) => store.update(u), 1000);
    this.onError = onError;
  }

  /**
   * Outcomes wait to be written and no write is in flight: the next write starts within
   * this turn of the event loop, so a claim made now should ride with it instead.
   */
  get departing(): boolean {
    return this.rider !== null && this.queued > 0 && !this.finisher.inFlight;
  }

  update(u: JobUpdate): void {
    void this.updater.add(u).catch(this.onError);
  }

  /** Writes an outcome; false when fenced out (the job moved on without us). */
  async write(outcome: Outcome): Promise<boolean> {
    this.writing++;
    this.queued++;
    try {
      await this.updater.drained();
      return await this.finisher.add(outcome);
    } finally {
      this.writing--;
    }
  }

  /** A batch of outcomes, with the worker's next claim when it rides along. */
  private send(outcomes: Outcome[]): Promise<boolean[]> {
    this.queued -= outcomes.length;
    const ride = this.rider?.() ?? null;
    // Without a claim, the store's own promise: no extra turn before outcomes resolve.
    return ride ? this.sendWithClaim(outcomes, ride) : this.store.finish(outcomes);
  }

  private async sendWithClaim(outcomes: Outcome[], ride: Rider): Promise<boolean[]> {
    let result;
    try {
      result = await this.store.finishAndClaim(outcomes, ride.request);
    } catch (err) {
      ride.done([], err);
      throw err;
    }
    ride.done(result.claimed);
    return result.finished;
  }

  async drained(): Promise<void> {
    await this.finisher.drained();
    await this.updater.drained();
  }
}
