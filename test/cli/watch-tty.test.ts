/** `conveyor watch` in a pseudo-terminal (util-linux `script`): a redrawn progress bar, then the outcome. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Queue } from '../../src/queue.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { CLI } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-tty-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('watch draws a progress bar on a terminal and exits 0 when the job completes', { timeout: 30_000 }, async () => {
  const db = join(dir, 'tty.db');
  const store = SqliteStore.open(db);
  const queue = new Queue(store, 'default');
  const { id } = await queue.add('slow');
  const cmd = `${process.execPath} ${CLI} watch ${id} --db ${db} --every 20ms`;
  // Steps wait for what the terminal shows, not for fixed times: a loaded machine starts
  // the CLI slowly.
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, NO_COLOR: '' } });
  let out = '';
  const seen: { re: RegExp; resolve: () => void }[] = [];
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
    for (const w of seen.filter((w) => w.re.test(out))) w.resolve();
  });
  const shows = (re: RegExp) => new Promise<void>((resolve) => (re.test(out) ? resolve() : seen.push({ re, resolve })));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  await shows(/queued/);
  const [job] = await store.claim({ queues: ['default'], workerId: 'w', limit: 1, leaseMs: 10_000 });
  await store.update([{ id, token: job.token, progress: 40, message: 'resizing 4/10' }]);
  await shows(/40%.*resizing 4\/10/);
  await store.finish([{ id, token: job.token, kind: 'completed', result: { ok: true } }]);
  assert.equal(await exited, 0);
  assert.ok(out.includes('\r\u001b[2K'), 'the line is redrawn in place');
  assert.match(out, /40%.*resizing 4\/10/);
  assert.match(out, /100%/);
  assert.match(out, /completed/);
  await store.close();
});
