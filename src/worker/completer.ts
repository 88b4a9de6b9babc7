/**
 * Writes what running jobs report: progress and log lines, then each outcome, both
 * group-committed (see Batcher) so many jobs finishing together cost one store call.
 * A job's updates land before its outcome.
 */
import { Batcher } from '../core/batcher.ts';
import type { JobUpdate, Outcome, Store } from '../stores/store.ts';

export class Completer {
  private readonly finisher: Batcher<Outcome, boolean>;
  private readonly updater: Batcher<JobUpdate, boolean>;
  private readonly onError: (err: unknown) => void;
  /** Outcomes handed over and not yet written. */
  writing = 0;

  constructor(store: Store, onError: (err: unknown) => void) {
    this.finisher = new Batcher((o) => store.finish(o), 1000);
    this.updater = new Batcher((u) => store.update(u), 1000);
    this.onError = onError;
  }

  update(u: JobUpdate): void {
    void this.updater.add(u).catch(this.onError);
  }

  /** Writes an outcome; false when fenced out (the job moved on without us). */
  async write(outcome: Outcome): Promise<boolean> {
    this.writing++;
    try {
      await this.updater.drained();
      return await this.finisher.add(outcome);
    } finally {
      this.writing--;
    }
  }

  async drained(): Promise<void> {
    await this.finisher.drained();
    await this.updater.drained();
  }
}
