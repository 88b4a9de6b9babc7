/**
 * The README's transactional-enqueue example runs as written, in a database of its own
 * (created here and dropped after), with `conveyor` resolved to this checkout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { PG_URL } from './pg-env.ts';

const run = promisify(execFile);
const database = `conveyor_readme_${process.pid}`;
const dir = mkdtempSync(join(new URL('../../', import.meta.url).pathname, '.readme-example-'));

async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

test('README: a job added in the application transaction is there after the commit', async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /<!-- readme-example: tx -->\n```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'the README has the example');
  const source = block[1].replace("from 'conveyor'", `from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).pathname)}`);
  // Inside the checkout, so `pg` resolves from its node_modules as it would for a user.
  const file = join(dir, 'example.ts');
  writeFileSync(file, source);
  await admin(`CREATE DATABASE ${database}`);
  const url = new URL(PG_URL);
  url.pathname = `/${database}`;
  const { stdout } = await run(process.execPath, [file], { env: { ...process.env, DATABASE_URL: url.toString() }, timeout: 60_000 });
  assert.equal(stdout.trim(), 'queued');
});
