/**
 * The product speaks of features, not of our planning documents: no "seed" in any
 * command's --help, the OpenAPI document, the README or docs/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli/program.ts';
import { buildServer } from '../src/server/app.ts';
import { MemoryStore } from '../src/stores/memory/memory-store.ts';

const WORD = /\bseeds?\b|seed[ _-]?0*\d/i;

/** Every command's full --help text (including the examples printed after it), by path. */
function helpTexts(cmd: Command, path = 'conveyor'): [string, string][] {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  cmd.outputHelp();
  return [[path, text], ...cmd.commands.flatMap((c) => helpTexts(c, `${path} ${c.name()}`))];
}

test('no command help says "seed"', () => {
  const texts = helpTexts(buildProgram());
  assert.ok(texts.length >= 25, `every command is read (${texts.length})`);
  assert.ok(texts.some(([p, t]) => p === 'conveyor schedule add' && /--cron/.test(t)), 'help texts are real');
  for (const [path, text] of texts) assert.doesNotMatch(text, WORD, `${path} --help`);
});

test('the OpenAPI document does not say "seed"', async () => {
  const app = await buildServer({ store: new MemoryStore(), logger: false });
  try {
    const doc = (await app.inject('/openapi.json')).body;
    assert.match(doc, /\/queue\/submit/);
    assert.doesNotMatch(doc, WORD);
  } finally {
    await app.close();
  }
});

test('README.md and docs/ do not say "seed"', () => {
  const root = new URL('../', import.meta.url);
  const files = ['README.md', ...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  assert.ok(files.length > 8);
  for (const f of files) {
    const lines = readFileSync(new URL(f, root), 'utf8').split('\n');
    lines.forEach((line, i) => assert.doesNotMatch(line, WORD, `${f}:${i + 1}`));
  }
});
