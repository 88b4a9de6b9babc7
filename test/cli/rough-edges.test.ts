/**
 * What a new user trips on: empty adds, read-only commands creating files, typos, paging
 * hints that drop filters, stacks behind --verbose, readable `info`, `drain --delete`, and
 * the target flags in every command's help.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.ts';
import { CLI, cli, cliJson } from '../helpers/cli.ts';
import { serve } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-edges-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('enqueue with no items and no --data is a usage error that adds nothing', async () => {
  const db = join(dir, 'empty-add.db');
  const r = await cli(['enqueue', '--db', db]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nothing to add/);
  assert.equal((await cli(['add', '-n', 'x', '-d', '{}', '--db', db])).code, 0, 'with --data it adds');
  assert.equal((await cliJson<{ totals: { queued: number } }>(['stats', '--db', db])).totals.queued, 1);
});

test('read-only commands never create a database: a missing file is exit 2, "no such database"', async () => {
  const db = join(dir, 'missing.db');
  for (const argv of [['stats'], ['list'], ['status', 'x'], ['info'], ['logs', 'x'], ['watch', 'x'], ['schedule', 'list']]) {
    const r = await cli([...argv, '--db', db]);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, /no such database: .*missing\.db/, argv.join(' '));
  }
  assert.equal(existsSync(db), false);
});

test('list: a state typo gets "did you mean"; the next-page hint repeats the filters', async () => {
  const db = join(dir, 'list.db');
  await cli(['enqueue', 'a', 'b', 'c', '-q', 'imgs', '-n', 'resize', '--db', db]);
  const typo = await cli(['list', '--state', 'queud', '--db', db]);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /unknown state "queud" \(did you mean "queued"\?\)/);
  const page = await cli(['list', '-q', 'imgs', '--state', 'waiting', '-n', 'resize', '--limit', '2', '--db', db]);
  const hint = /more: conveyor list (.*)$/m.exec(page.stdout)![1];
  assert.match(hint, /^-q imgs --state waiting -n resize --limit 2 --cursor \S+$/);
  const next = await cli(['list', ...hint.split(' '), '--db', db]);
  assert.equal(next.stdout.trim().split('\n').length, 2, 'the rest: a header and one job');
});

test('status shows errors, and their stacks with --verbose; info names what its bars count', async () => {
  const db = join(dir, 'status.db');
  const [added] = await cliJson<{ id: string }[]>(['add', '-n', 'explode', '-d', '{}', '--db', db]);
  const handlers = new URL('../fixtures/cli/jobs.ts', import.meta.url).pathname;
  await cli(['worker', '--handlers', handlers, '--burst', '--db', db]);
  const plain = await cli(['status', added.id, '--db', db]);
  assert.match(plain.stdout, /error #1/);
  assert.match(plain.stdout, /--verbose shows the stack/);
  const verbose = await cli(['status', added.id, '--verbose', '--db', db]);
  assert.match(verbose.stdout, /at .*jobs\.ts/);
  const info = await cli(['info', '--db', db]);
  assert.match(info.stdout, /bars: waiting jobs .* log scale/);
  assert.match(info.stdout, /updated \d{4}-\d\d-\d\d/);
});

test('drain marks completed, or deletes with --delete', async () => {
  const db = join(dir, 'drain.db');
  await cli(['enqueue', 'x', 'y', '--db', db]);
  const kept = await cli(['drain', '--limit', '1', '--db', db]);
  assert.match(kept.stderr, /drained 1 job\(s\) from default \(marked completed\)/);
  const gone = await cli(['drain', '--delete', '--db', db]);
  assert.match(gone.stderr, /\(deleted\)/);
  const s = await cliJson<{ totals: { completed: number; queued: number } }>(['stats', '--db', db]);
  assert.deepEqual([s.totals.completed, s.totals.queued], [1, 0]);
});

test("every command's --help lists the target flags and --json", () => {
  const visit = (cmd: Command, path: string): void => {
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s) });
    cmd.outputHelp();
    if (cmd.commands.length === 0 || path === 'conveyor') {
      for (const flag of ['--db', '--redis', '--server', '--token', '--json']) assert.match(text, new RegExp(`${flag}\\b`), `${path} --help lacks ${flag}`);
    }
    for (const c of cmd.commands) visit(c, `${path} ${c.name()}`);
  };
  visit(buildProgram(), 'conveyor');
});

test('output into a pipe its reader closed (conveyor --help | head) ends quietly with exit 0', async () => {
  const child = spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Nobody reads: the pipe is closed before the CLI (still loading) writes its help.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(stderr, '');
  assert.equal(code, 0);
});

test('serve on a port out of range, or one in use, exits 1 at once with the reason (and stops what it started)', async () => {
  const db = join(dir, 'ports.db');
  const range = await cli(['serve', '--db', db, '--listen', '99999', '--quiet']);
  assert.equal(range.code, 1);
  assert.match(range.stderr, /--listen must be an integer from 0 to 65535; got "99999"/);
  const first = await serve(['--db', db]);
  try {
    const port = new URL(first.url).port;
    // It used to keep its upkeep running against the closed store, and never exit.
    const taken = await cli(['serve', '--db', db, '--listen', port, '--quiet']);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
  } finally {
    first.child.kill('SIGTERM');
    await first.exited;
  }
});

test('a handler module that throws while loading is named in the error; exit 1', async () => {
  const file = join(dir, 'broken-handlers.mjs');
  writeFileSync(file, 'throw new Error("boom at import");\n');
  const r = await cli(['worker', '--db', join(dir, 'h.db'), '--handlers', file, '--burst']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /handler module .*broken-handlers\.mjs failed to load: boom at import/);
});
