/**
 * What PostgreSQL cannot store: the NUL character (in text and in jsonb) and unpaired
 * surrogates (no UTF-8 form; jsonb refuses their \u escapes). Handlers' results, error texts,
 * progress messages and log lines may hold either; refusing the write would leave the job
 * active until its lease ran out, again on every attempt. So the PostgreSQL store writes
 * U+FFFD in their place (docs/stores-postgres.md). Option strings (ids, groups, keys) are
 * refused at validation instead (core/options.ts).
 */

/** NUL, or an unpaired surrogate, as JSON.stringify writes them (a paired one stays raw). */
const SUSPECT = /\\u0000|\\ud[89a-f][0-9a-f]{2}/i;

export function storableText(s: string): string {
  return s.includes('\u0000') || !s.isWellFormed() ? s.toWellFormed().replaceAll('\u0000', '\ufffd') : s;
}

function clean(v: unknown): unknown {
  if (typeof v === 'string') return storableText(v);
  if (Array.isArray(v)) return v.map(clean);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [storableText(k), clean(x)]));
  return v;
}

/** JSON text that jsonb accepts: unchanged unless it holds what PostgreSQL cannot store (a quick scan). */
export function storableJson(text: string): string {
  return SUSPECT.test(text) ? JSON.stringify(clean(JSON.parse(text))) : text;
}
