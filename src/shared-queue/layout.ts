/**
 * The memory layout of one queue on a SharedArrayBuffer:
 *
 *   [ header: HEADER_WORDS x Int32 ][ ring: ringBytes ]
 *
 * The ring holds records back to back: [length u32][flags u32][payload, padded to 4].
 * A record never wraps: when it does not fit before the end, a WRAP record fills the rest
 * and the record starts at offset 0. The ring is sized for `capacity` records of the
 * largest size, so a queue below its capacity always has room for one more item.
 */
export const H = {
  /** Owner of the lock (thread tag), 0 when free. */
  LOCK: 0,
  /** Bumped on every acquisition: lets a waiter tell a stuck owner from a busy lock. */
  LOCK_GEN: 1,
  HEAD: 2,
  TAIL: 3,
  COUNT: 4,
  /** Bumped (and notified) after every put: consumers wait on it. */
  PUT_SEQ: 5,
  /** Bumped (and notified) after every get: producers wait on it. */
  GET_SEQ: 6,
  CAPACITY: 7,
  MAX_ITEM: 8,
  RING_BYTES: 9,
  CLOSED: 10,
  /** Totals (low 31 bits wrap; read them as counters of recent activity). */
  TOTAL_PUT: 11,
  TOTAL_GOT: 12,
  PUT_WAITS: 13,
  GET_WAITS: 14,
  /** Locks taken over from a thread that died holding one. */
  RECOVERED: 15,
  MAGIC: 16,
  /** Threads asleep in Atomics.wait for items / for room: a put or get wakes them only if any. */
  GET_SLEEPERS: 17,
  PUT_SLEEPERS: 18,
} as const;

export const HEADER_WORDS = 24;
export const HEADER_BYTES = HEADER_WORDS * 4;
export const RECORD_HEADER = 8;
export const MAGIC = 0x51554555; // "QUEU"

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
