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
  unfaithful(item, 'item', 0);
  return { bytes: packr.pack(item), raw: false };
}

/**
 * Refuses what would not come out as it went in: msgpack has no functions or symbols, and
 * would drop them (or the keys holding them) without a word.
 */
function unfaithful(v: unknown, path: string, depth: number): void {
  const t = typeof v;
  if (t === 'function' || t === 'symbol') throw new TypeError(`${path} is a ${t}, which cannot cross to another thread`);
  if (t !== 'object' || v === null || depth > 64 || ArrayBuffer.isView(v)) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) unfaithful(v[i], `${path}[${i}]`, depth + 1);
  } else if (v instanceof Map) {
    for (const [k, x] of v) unfaithful(x, `${path}.get(${String(k)})`, depth + 1);
  } else if (!(v instanceof Date) && !(v instanceof RegExp) && !(v instanceof Set)) {
    if (Object.getOwnPropertySymbols(v).length > 0) throw new TypeError(`${path} has symbol keys, which cannot cross to another thread`);
    for (const k in v) unfaithful((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
  }
}

/** `bytes` is the reader's own copy (taken under the lock): raw items are views of it. */
export function decode(bytes: Uint8Array, raw: boolean): unknown {
  return raw ? bytes : packr.unpack(bytes);
}
