/**
 * The memory layout of one queue on a SharedArrayBuffer:
 *
 *   [ header: HEADER_WORDS x Int32 ][ ring: ringBytes ]
 *
 * The ring holds records back to back: [length u32][flags u32][payload, padded to 4].
 * A record never wraps: when it does not fit before the end, a WRAP record fills the rest
 * and the record starts at offset 0. The ring is sized for `capacity` records of the
 * largest size, so a queue below its capacity always has room for one more item.
 *
 * Producers and consumers each have their own lock and cursor, on cache lines of their own:
 * one producer and one consumer never take the same lock, and each side's lock stays off
 * the lines the other side reads (see ring.ts).
 */
export const H = {
  MAGIC: 0,
  CAPACITY: 1,
  MAX_ITEM: 2,
  RING_BYTES: 3,
  /** Locks taken over from a thread that died holding one. */
  RECOVERED: 4,

  // Producers only: their lock, and a count of acquisitions that lets a waiter tell a stuck
  // owner from a busy lock (lock.ts expects it in the next word).
  P_LOCK: 16,
  P_GEN: 17,

  // Written by producers, read by consumers: where the next record goes (consumers read up
  // to it), and items put, ever (wraps; consumers wait on it).
  TAIL: 32,
  PUT_N: 33,

  // Consumers only.
  C_LOCK: 48,
  C_GEN: 49,

  // Written by consumers, read by producers: the oldest record, and items taken, ever
  // (wraps; producers wait on it). PUT_N - GOT_N is the size.
  HEAD: 64,
  GOT_N: 65,

  // Consumers asleep waiting for items (a put wakes them only if any), and waits that found the queue empty.
  GET_SLEEPERS: 80,
  GET_WAITS: 81,
  // Producers asleep waiting for room, and waits that found the queue full.
  PUT_SLEEPERS: 96,
  PUT_WAITS: 97,
} as const;

/**
 * Each group above is on a 64-byte cache line of its own: a lock word on the line the other
 * side polls made every acquisition fetch the line back from the other core (measured: a
 * single put+get went from ~0.9 to ~0.45 µs of CPU, one producer and one consumer thread).
 */
export const HEADER_WORDS = 112;
export const HEADER_BYTES = HEADER_WORDS * 4;
export const RECORD_HEADER = 8;
export const MAGIC = 0x51554556; // "QUEV": the two-lock layout

export const FLAG_RAW = 1;
export const FLAG_WRAP = 2;
/** The payload is JSON text (codec.ts); otherwise msgpack. */
export const FLAG_JSON = 4;

export function recordSize(payload: number): number {
  return RECORD_HEADER + ((payload + 3) & ~3);
}

export function ringBytesFor(capacity: number, maxItemBytes: number): number {
  // Worst case: every slot holds a maximal record, plus one WRAP record's worth of slack.
  return capacity * recordSize(maxItemBytes) + recordSize(maxItemBytes);
}
