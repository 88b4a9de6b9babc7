/**
 * The CLI on PostgreSQL: --postgres / --schema on every command, `conveyor migrate`, and
 * the usage and connection errors around them.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { cli, cliJson } from '../helpers/cli.ts';
import { dropSchema, PG_URL, uniqueSchema } from '../postgres/pg-env.ts';

const schemas: string[] = [];
after(async () => {
  for (const s of schemas) await dropSchema(s);
});

test('migrate creates the tables once; add, list and stats then work on the schema', async () => {
  const schema = uniqueSchema('cli');
  schemas.push(schema);
  const first = await cliJson<{ from: number; to: number }>(['migrate', '--postgres', PG_URL, '--schema', schema]);
  assert.equal(first.from, 0);
  assert.ok(first.to >= 1);
  const again = await cli(['migrate', '--postgres', PG_URL, '--schema', schema]);
  assert.equal(again.code, 0);
  assert.match(again.stdout, /is up to date/);
  const added = await cliJson<{ id: string }[]>(['enqueue', 'a.jpg', 'b.jpg', '-n', 'resize', '--postgres', PG_URL, '--schema', schema]);
  assert.equal(added.length, 2);
  // The environment names the store as well as the flags do.
  const stats = await cliJson<{ totals: { queued: number } }>(['stats'], { CONVEYOR_POSTGRES_URL: PG_URL, CONVEYOR_PG_SCHEMA: schema });
  assert.equal(stats.totals.queued, 2);
});

test('migrate without PostgreSQL, two stores at once, a bad URL: exit 1; an unreachable server: exit 2', async () => {
  const none = await cli(['migrate']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /migrate is for PostgreSQL/);
  const both = await cli(['stats', '--postgres', PG_URL, '--db', 'x.db']);
  assert.equal(both.code, 1);
  assert.match(both.stderr, /not --postgres and --db/);
  const bad = await cli(['stats', '--postgres', 'mysql://x']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--postgres takes a postgres:\/\/ URL/);
  const badSchema = await cli(['migrate', '--postgres', PG_URL, '--schema', 'No-Caps']);
  assert.equal(badSchema.code, 1);
  assert.match(badSchema.stderr, /lower-case identifier/);
  const down = await cli(['migrate', '--postgres', 'postgres://u:hunter2@127.0.0.1:1/x']);
  assert.equal(down.code, 2);
  assert.match(down.stderr, /cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x/);
  assert.doesNotMatch(down.stderr, /hunter2/);
  const help = await cli(['migrate', '--help']);
  assert.match(help.stdout, /advisory lock/);
});
