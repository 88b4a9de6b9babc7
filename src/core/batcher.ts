/**
 * Group commit for a hot path: callers add items one by one; items that arrive while a
 * flush is in flight go out together in the next flush. No timers: under load batches grow
 * by themselves, and an idle caller pays one round trip.
 */
export class Batcher<In, Out> {
  private pending: { item: In; resolve: (v: Out) => void; reject: (e: unknown) => void }[] = [];
  private flushing = false;
  private calling = false;
  private readonly flushFn: (items: In[]) => Promise<Out[]>;
  private readonly maxBatch: number;
  private idle: (() => void)[] = [];

  constructor(flushFn: (items: In[]) => Promise<Out[]>, maxBatch = 1000) {
    this.flushFn = flushFn;
    this.maxBatch = maxBatch;
  }

  add(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  get size(): number {
    return this.pending.length;
  }

  /** A flush is waiting for its flushFn call right now. */
  get inFlight(): boolean {
    return this.calling;
  }

  /** Resolves when nothing is pending or in flight. */
  drained(): Promise<void> {
    if (!this.flushing && this.pending.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    // Let callers in the same tick join this batch.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, this.maxBatch);
      this.calling = true;
      try {
        const out = await this.flushFn(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(out[i]));
      } catch (err) {
        batch.forEach((b) => b.reject(err));
      } finally {
        this.calling = false;
      }
    }
    this.flushing = false;
    for (const r of this.idle.splice(0)) r();
  }
}
