/**
 * The SQLite file under a running `conveyor serve` goes away, or its disk fills: writes are
 * refused with a clear error (503 STORAGE_LOST, 507 STORAGE_FULL) instead of acknowledged
 * and lost, /health says what is wrong, and once space returns, writes resume.
 * The disk-full part mounts a small tmpfs, which needs root (as CI runs): without it the
 * test fails, saying so, rather than skipping.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, CLI } from '../helpers/cli.ts';
import { spawnTs } from '../helpers/procs.ts';
import { serve, type ServeProc } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-faults-'));
const servers: ServeProc[] = [];
const mounts: string[] = [];
after(async () => {
  for (const s of servers) {
    s.child.kill('SIGKILL');
    await s.exited;
  }
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  rmSync(dir, { recursive: true, force: true });
});

const add = (url: string, data: unknown = {}) => fetch(`${url}/api/queues/q/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 't', data }) });

test('the database folder removed while serving: writes refused (503), /health says why, the log too', async () => {
  const home = join(dir, 'gone');
  mkdirSync(home);
  // Not --quiet: the log must say what happened.
  const p = spawnTs(CLI, ['serve', '--listen', '0', '--db', join(home, 'jobs.db')]);
  const s = Object.assign(p, { url: (await p.waitFor(/^Conveyor listening on /)).replace('Conveyor listening on ', '').trim() });
  servers.push(s);
  assert.equal((await add(s.url)).status, 201);
  rmSync(home, { recursive: true, force: true });
  const refused = await add(s.url);
  assert.equal(refused.status, 503);
  const { error } = await refused.json();
  assert.equal(error.code, 'STORAGE_LOST');
  assert.match(error.message, /jobs\.db was removed .*refusing writes/);
  const health = await fetch(`${s.url}/health`);
  assert.equal(health.status, 503);
  assert.match((await health.json()).problem, /was removed/);
  await s.waitFor(/STORAGE_LOST|was removed/);
});

test('a full disk: 507 STORAGE_FULL naming the file, /health degraded; writes resume when space returns', async () => {
  const mnt = join(dir, 'small');
  mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`this test mounts a 4 MiB tmpfs and needs root (CI runs as root): ${(err as Error).message}`);
  }
  mounts.push(mnt);
  const s = await serve(['--db', join(mnt, 'jobs.db'), '--uploads', join(dir, 'uploads')]);
  servers.push(s);
  assert.equal((await add(s.url)).status, 201);
  // Fill what is left of the disk.
  const filler = join(mnt, 'filler');
  const fd = openSync(filler, 'w');
  try {
    const chunk = Buffer.alloc(64 * 1024);
    for (;;) writeSync(fd, chunk);
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
  let status = 0;
  let body: { error?: { code: string; message: string } } = {};
  for (let i = 0; i < 50 && status !== 507; i++) {
    const r = await add(s.url, { pad: 'x'.repeat(64 * 1024) });
    status = r.status;
    body = await r.json();
  }
  assert.equal(status, 507, 'a write is refused for the full disk');
  assert.equal(body.error!.code, 'STORAGE_FULL');
  assert.match(body.error!.message, /the disk holding .*jobs\.db is full/);
  const health = await fetch(`${s.url}/health`);
  assert.equal(health.status, 503);
  assert.match((await health.json()).problem, /is full/);
  const viaCli = await cli(['add', '-n', 't', '-d', JSON.stringify({ pad: 'y'.repeat(100 * 1024) }), '--db', join(mnt, 'jobs.db')]);
  assert.equal(viaCli.code, 2, viaCli.stderr);
  assert.match(viaCli.stderr, /the disk holding .*jobs\.db is full/);
  unlinkSync(filler);
  assert.equal((await add(s.url)).status, 201, 'space is back: writes resume');
  assert.equal((await fetch(`${s.url}/health`)).status, 200);
});
