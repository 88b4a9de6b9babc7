/**
 * Item encoding. Raw bytes (Uint8Array) pass as they are. An item that JSON carries exactly
 * (strings, finite numbers, booleans, null, arrays and plain objects of those) goes as JSON:
 * V8's JSON.stringify/parse run in C++, where msgpackr's pack and unpack are JavaScript, and
 * they were half of a producer's time for such items (docs/shared-queue.md). Anything else
 * (Date, Map, Set, undefined, -0, typed arrays, class instances, BigInt) goes through
 * msgpackr, which keeps those types.
 */
import { Packr } from 'msgpackr';
import { FLAG_JSON, FLAG_RAW } from './layout.ts';

const packr = new Packr({ useRecords: false, moreTypes: true });
const fromUtf8 = new TextDecoder();

export interface Encoded {
  /** The payload; null for JSON, which stays text until it is written where it goes (see utf8). */
  bytes: Uint8Array | null;
  text: string | null;
  /** The record's flags: FLAG_RAW, FLAG_JSON, or 0 for msgpack. */
  flags: number;
}

/** JSON text goes into a batch's staging buffer with encodeInto: no array per item. */
export const utf8 = new TextEncoder();

const JSON_SAFE = 0;
const PACK = 1;
const REFUSED = 2;

/**
 * What `v` needs, in one walk without building paths (the walk is on every put): JSON_SAFE,
 * PACK, or REFUSED (a function or symbol somewhere; unfaithful() then says where).
 */
function kindOf(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return JSON_SAFE;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0) ? JSON_SAFE : PACK;
    case 'function':
    case 'symbol':
      return REFUSED;
    case 'object':
      break;
    default:
      return PACK; // undefined, bigint
  }
  if (v === null) return JSON_SAFE;
  if (depth > 64 || ArrayBuffer.isView(v) || v instanceof Date || v instanceof RegExp || v instanceof Set) return PACK;
  let kind = JSON_SAFE;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const k = kindOf(v[i], depth + 1);
      if (k === REFUSED) return REFUSED;
      if (k > kind) kind = k;
    }
    return kind;
  }
  if (v instanceof Map) {
    for (const x of v.values()) if (kindOf(x, depth + 1) === REFUSED) return REFUSED;
    return PACK;
  }
  if (Object.getOwnPropertySymbols(v).length > 0) return REFUSED;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) kind = PACK;
  for (const key in v) {
    const k = kindOf((v as Record<string, unknown>)[key], depth + 1);
    if (k === REFUSED) return REFUSED;
    if (k > kind) kind = k;
  }
  return kind;
}

export function encode(item: unknown): Encoded {
  if (item instanceof Uint8Array) return { bytes: item, text: null, flags: FLAG_RAW };
  const kind = kindOf(item, 0);
  if (kind === REFUSED) unfaithful(item, 'item', 0);
  if (kind === JSON_SAFE) return { bytes: null, text: JSON.stringify(item), flags: FLAG_JSON };
  return { bytes: packr.pack(item), text: null, flags: 0 };
}

/**
 * Throws with the path of what would not come out as it went in: msgpack has no functions or
 * symbols, and would drop them (or the keys holding them) without a word.
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
export function decode(bytes: Uint8Array, flags: number): unknown {
  if (flags & FLAG_RAW) return bytes;
  if (flags & FLAG_JSON) return JSON.parse(fromUtf8.decode(bytes));
  return packr.unpack(bytes);
}
