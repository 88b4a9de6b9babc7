import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSplitter } from '../../src/runners/child/line-splitter.ts';
import { marker } from '../../src/runners/child/protocol.ts';

function collect() {
  const lines: [string, number | null][] = [];
  const ends: number[] = [];
  const s = new LineSplitter(
    (line, seq) => lines.push([line, seq]),
    (seq) => ends.push(seq),
  );
  return { s, lines, ends };
}

test('lines are tagged with the job segment they were written in, across chunk boundaries', () => {
  const { s, lines, ends } = collect();
  const text = `stray\n${marker('start', 1)}one\r\ntw` + `o\n\npartial${marker('end', 1)}after\n${marker('start', 2)}x${marker('end', 2)}`;
  // Feed it in awkward pieces: one character at a time splits every marker.
  for (const ch of text) s.push(ch);
  assert.deepEqual(lines, [
    ['stray', null],
    ['one', 1],
    ['two', 1],
    ['', 1],
    ['partial', 1],
    ['after', null],
    ['x', 2],
  ]);
  assert.deepEqual(ends, [1, 2]);
});

test('flush emits an unterminated line (the child died mid-line)', () => {
  const { s, lines } = collect();
  s.push(`${marker('start', 7)}last words`);
  s.flush();
  assert.deepEqual(lines, [['last words', 7]]);
});

test('a huge line without a newline is cut into pieces instead of buffered forever', () => {
  const { s, lines } = collect();
  s.push('x'.repeat(150 * 1024));
  assert.equal(lines.length, 2);
  assert.ok(lines.every(([l]) => l.length === 64 * 1024));
  s.flush();
  assert.equal(lines.reduce((n, [l]) => n + l.length, 0), 150 * 1024);
});
