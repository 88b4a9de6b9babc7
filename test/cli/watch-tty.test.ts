/** `conveyor watch` in a pseudo-terminal (util-linux `script`): a redrawn progress bar, then the outcome. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from '../../src/queue.ts';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { CLI } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-tty-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('watch draws a progress bar on a terminal and exits 0 when the job completes', async () => {
  const db = join(dir, 'tty.db');
  const store = SqliteStore.open(db);
  const queue = new Queue(store, 'default');
  const { id } = await queue.add('slow');
  const cmd = `${process.execPath} ${CLI} watch ${id} --db ${db} --every 20ms`;
  const watching = new Promise<{ code: number; out: string }>((resolve) => {
    execFile('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, NO_COLOR: '' } }, (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code) : 0, out: stdout }));
  });
  await sleep(400);
  const [job] = await store.claim({ queues: ['default'], workerId: 'w', limit: 1, leaseMs: 10_000 });
  await store.update([{ id, token: job.token, progress: 40, message: 'resizing 4/10' }]);
  await sleep(300);
  await store.finish([{ id, token: job.token, kind: 'completed', result: { ok: true } }]);
  const { code, out } = await watching;
  assert.equal(code, 0);
  assert.ok(out.includes('\r\u001b[2K'), 'the line is redrawn in place');
  assert.match(out, /40%.*resizing 4\/10/);
  assert.match(out, /100%/);
  assert.match(out, /completed/);
  await store.close();
});
