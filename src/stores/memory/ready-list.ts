import { MinHeap } from './heap.ts';

/** A job waiting in a band: its id, and its ready seq (which tells a stale entry). */
interface Late {
  id: string;
  seq: number;
}

interface Bucket {
  /** Entries pushed in arrival order: an array read from `head` (amortized O(1) per pop). */
  ids: string[];
  seqs: number[];
  orders: number[];
  head: number;
  /** Entries whose order is before the last appended one (groups' turns): a heap. */
  late: MinHeap<Late>;
}

/**
 * Queued job ids of one queue, by priority (higher first) then arrival order. Jobs without
 * a group arrive in order and are appended; a group's turn (engine/fair-turns.ts) can fall
 * before jobs already waiting, so those entries go to a heap merged in on reading. Removal
 * is lazy: an entry is dropped when read if its job is no longer queued under the same seq.
 */
export class ReadyList {
  private buckets = new Map<number, Bucket>();
  private priorities: number[] = []; // sorted descending

  push(priority: number, id: string, seq: number, order = seq): void {
    let b = this.buckets.get(priority);
    if (!b) {
      b = { ids: [], seqs: [], orders: [], head: 0, late: new MinHeap<Late>() };
      this.buckets.set(priority, b);
      const ps = this.priorities;
      let i = 0;
      while (i < ps.length && ps[i] > priority) i++;
      ps.splice(i, 0, priority);
    }
    if (b.ids.length > b.head && order < b.orders[b.ids.length - 1]) {
      b.late.push(order, { id, seq });
      return;
    }
    b.ids.push(id);
    b.seqs.push(seq);
    b.orders.push(order);
  }

  /** The order of the first entry at a priority (perhaps a stale one), or null if none waits. */
  head(priority: number): number | null {
    const b = this.buckets.get(priority);
    if (!b) return null;
    const first = b.head < b.ids.length ? b.orders[b.head] : Infinity;
    return Math.min(first, b.late.peekKey() ?? Infinity);
  }

  /**
   * Visits entries in claim order; `take` returns true to consume the entry, false to
   * skip it (kept), or 'stale' to drop it. Stops when `take` returns 'stop'.
   */
  scan(take: (id: string, seq: number) => boolean | 'stale' | 'stop'): void {
    for (const p of [...this.priorities]) {
      const b = this.buckets.get(p)!;
      let kept: { ids: string[]; seqs: number[]; orders: number[] } | null = null;
      const keptLate: [number, Late][] = [];
      let i = b.head;
      let stopped = false;
      for (;;) {
        const lateKey = b.late.peekKey();
        const inArray = i < b.ids.length;
        if (!inArray && lateKey === undefined) break;
        if (lateKey !== undefined && (!inArray || lateKey < b.orders[i])) {
          const e = b.late.pop()!;
          const verdict = take(e.id, e.seq);
          if (verdict === 'stop') {
            b.late.push(lateKey, e);
            stopped = true;
            break;
          }
          if (verdict === false) keptLate.push([lateKey, e]);
          continue;
        }
        const verdict = take(b.ids[i], b.seqs[i]);
        if (verdict === 'stop') {
          stopped = true;
          break;
        }
        if (verdict === false) {
          kept ??= { ids: [], seqs: [], orders: [] };
          kept.ids.push(b.ids[i]);
          kept.seqs.push(b.seqs[i]);
          kept.orders.push(b.orders[i]);
        }
        i++;
      }
      for (const [key, e] of keptLate) b.late.push(key, e);
      if (kept) {
        // Skipped entries go back in front, in their order.
        b.ids = kept.ids.concat(b.ids.slice(i));
        b.seqs = kept.seqs.concat(b.seqs.slice(i));
        b.orders = kept.orders.concat(b.orders.slice(i));
        b.head = 0;
      } else if (i === b.ids.length) {
        b.ids = [];
        b.seqs = [];
        b.orders = [];
        b.head = 0;
      } else if (i > 4096 && i > b.ids.length / 2) {
        // Compact only when the consumed prefix dominates, so pops stay amortized O(1).
        b.ids = b.ids.slice(i);
        b.seqs = b.seqs.slice(i);
        b.orders = b.orders.slice(i);
        b.head = 0;
      } else {
        b.head = i;
      }
      if (b.ids.length - b.head === 0 && b.late.size === 0) {
        this.buckets.delete(p);
        this.priorities.splice(this.priorities.indexOf(p), 1);
      }
      if (stopped) return;
    }
  }
}
