/**
 * Where a get copies records out of the ring: a per-thread slab, as Node's Buffer pool does
 * for small buffers. A fresh ArrayBuffer per get (or `slice()` of the ring) cost 3-17 µs for
 * a 26 KB batch and ~1 µs for one item, where copying the bytes costs ~1 µs and ~15 ns
 * (measured, docs/shared-queue.md). Items are views of the slab; a slab is let go when it is
 * full, and lives on while any item still views it.
 */
const SLAB_BYTES = 256 * 1024;
const POOLED_MAX = SLAB_BYTES / 4;
let slab = new ArrayBuffer(SLAB_BYTES);
let used = 0;

/** `len` bytes of this thread's slab, to copy into; the caller's to keep. */
export function slabView(len: number): Uint8Array {
  if (len > POOLED_MAX) return new Uint8Array(len);
  if (used + len > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const out = new Uint8Array(slab, used, len);
  used += (len + 7) & ~7;
  return out;
}

let scratch = new Uint8Array(64 * 1024);
/**
 * `len` bytes this thread reuses: valid until the next call. For callers that read the bytes
 * at once and keep nothing (SharedQueue.consumeRaw), so a batch allocates nothing.
 */
export function scratchView(len: number): Uint8Array {
  if (scratch.length < len) scratch = new Uint8Array(Math.max(len, scratch.length * 2));
  return scratch;
}
