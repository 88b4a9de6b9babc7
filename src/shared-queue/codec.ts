/**
 * Item encoding. Raw bytes (Uint8Array) pass as they are; everything else goes through
 * msgpackr, chosen over JSON and v8.serialize by measurement (docs/shared-queue.md).
 */
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: true });

export interface Encoded {
  bytes: Uint8Array;
  raw: boolean;
}

export function encode(item: unknown): Encoded {
  if (item instanceof Uint8Array) return { bytes: item, raw: true };
  return { bytes: packr.pack(item), raw: false };
}

export function decode(bytes: Uint8Array, raw: boolean): unknown {
  // Copy out of shared memory: the slot may be reused as soon as the lock is released.
  return raw ? bytes.slice() : packr.unpack(bytes);
}
