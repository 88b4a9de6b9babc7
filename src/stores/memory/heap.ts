/** A binary min-heap of [key, value] pairs (values are job ids unless told); stale entries are skipped by the caller. */
export class MinHeap<T = string> {
  private keys: number[] = [];
  private ids: T[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(key: number, id: T): void {
    const k = this.keys;
    const v = this.ids;
    let i = k.length;
    k.push(key);
    v.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (k[p] <= key) break;
      k[i] = k[p];
      v[i] = v[p];
      i = p;
    }
    k[i] = key;
    v[i] = id;
  }

  peekKey(): number | undefined {
    return this.keys[0];
  }

  pop(): T | undefined {
    const k = this.keys;
    const v = this.ids;
    if (k.length === 0) return undefined;
    const top = v[0];
    const lastK = k.pop()!;
    const lastV = v.pop()!;
    const n = k.length;
    if (n > 0) {
      let i = 0;
      while (true) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && k[r] < k[l] ? r : l;
        if (k[c] >= lastK) break;
        k[i] = k[c];
        v[i] = v[c];
        i = c;
      }
      k[i] = lastK;
      v[i] = lastV;
    }
    return top;
  }
}
