/**
 * Queued job ids of one queue, by priority (higher first) then arrival. Removal is lazy:
 * an entry is dropped when popped if its job is no longer queued under the same ready seq.
 */
export class ReadyList {
  private buckets = new Map<number, { ids: string[]; seqs: number[]; head: number }>();
  private priorities: number[] = []; // sorted descending

  push(priority: number, id: string, seq: number): void {
    let b = this.buckets.get(priority);
    if (!b) {
      b = { ids: [], seqs: [], head: 0 };
      this.buckets.set(priority, b);
      const ps = this.priorities;
      let i = 0;
      while (i < ps.length && ps[i] > priority) i++;
      ps.splice(i, 0, priority);
    }
    b.ids.push(id);
    b.seqs.push(seq);
  }

  /**
   * Visits entries in claim order; `take` returns true to consume the entry, false to
   * skip it (kept), or 'stale' to drop it. Stops when `take` returns 'stop'.
   */
  scan(take: (id: string, seq: number) => boolean | 'stale' | 'stop'): void {
    for (const p of [...this.priorities]) {
      const b = this.buckets.get(p)!;
      let kept: { ids: string[]; seqs: number[] } | null = null;
      let i = b.head;
      let stopped = false;
      for (; i < b.ids.length; i++) {
        const verdict = take(b.ids[i], b.seqs[i]);
        if (verdict === 'stop') {
          stopped = true;
          break;
        }
        if (verdict === false) {
          kept ??= { ids: [], seqs: [] };
          kept.ids.push(b.ids[i]);
          kept.seqs.push(b.seqs[i]);
        }
      }
      if (kept) {
        // Skipped entries go back in front, in their order.
        b.ids = kept.ids.concat(b.ids.slice(i));
        b.seqs = kept.seqs.concat(b.seqs.slice(i));
        b.head = 0;
      } else if (i === b.ids.length) {
        b.ids = [];
        b.seqs = [];
        b.head = 0;
      } else if (i > 4096 && i > b.ids.length / 2) {
        // Compact only when the consumed prefix dominates, so pops stay amortized O(1).
        b.ids = b.ids.slice(i);
        b.seqs = b.seqs.slice(i);
        b.head = 0;
      } else {
        b.head = i;
      }
      if (b.ids.length - b.head === 0) {
        this.buckets.delete(p);
        this.priorities.splice(this.priorities.indexOf(p), 1);
      }
      if (stopped) return;
    }
  }
}
