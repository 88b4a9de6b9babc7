/** The notification payloads of the PostgreSQL store: chunks that fit PostgreSQL's 8,000-byte limit. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chunkJson, PAYLOAD_BYTES } from '../../src/stores/postgres/flush.ts';

test('chunkJson: every item once, in order, in chunks that fit; an item too long on its own goes alone', () => {
  const items = Array.from({ length: 1000 }, (_, i) => ({ type: 'added', jobId: `job-${i}`, pad: 'x'.repeat(i % 97) }));
  const big = { type: 'failed', error: 'e'.repeat(PAYLOAD_BYTES + 10) };
  const all = [...items.slice(0, 500), big, ...items.slice(500)];
  const chunks = chunkJson(all);
  assert.ok(chunks.length > 10, `${chunks.length} chunks`);
  assert.deepEqual(chunks.flatMap((c) => JSON.parse(c) as unknown[]), all);
  for (const c of chunks) assert.ok(c.length <= PAYLOAD_BYTES || (JSON.parse(c) as unknown[]).length === 1, `a chunk of ${c.length} characters`);
  assert.deepEqual(chunkJson([]), []);
  assert.deepEqual(chunkJson([1, 2]), ['[1,2]']);
});
