import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newJobId } from '../../src/core/job-id.ts';

test('job ids are UUIDv7: valid, unique, and in creation order', () => {
  const ids = Array.from({ length: 20_000 }, () => newJobId());
  for (const id of ids.slice(0, 100)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
});

test('a job id carries its creation time, and order holds past 4,096 ids in one millisecond', () => {
  const at = Date.UTC(2030, 0, 1);
  const ids = Array.from({ length: 5000 }, () => newJobId(at));
  assert.equal(parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16), at);
  assert.deepEqual([...ids].sort(), ids);
  assert.equal(new Set(ids).size, ids.length);
});
