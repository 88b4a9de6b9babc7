/**
 * The Lua files load into the real Redis as scripts and as a Functions library, and a
 * runtime error names the .lua file and line it happened on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { Redis } from 'ioredis';
import { librarySource, Scripts, scriptSource, type ScriptName } from '../../src/stores/redis/scripts.ts';
import { dropPrefix, REDIS_URL, uniquePrefix } from './redis-env.ts';

const NAMES: ScriptName[] = ['enqueue', 'claim', 'extend', 'finish', 'update', 'cancel', 'remove', 'retry', 'promote', 'clean', 'configure', 'maintain', 'peek', 'lead', 'resign', 'advance-schedule'];
const redis = new Redis(REDIS_URL);
const prefix = uniquePrefix('lua');
after(async () => {
  redis.disconnect();
  await dropPrefix(prefix);
});

test('every operation compiles as a script, and the whole library as Redis Functions', async () => {
  for (const name of NAMES) {
    const sha = (await redis.script('LOAD', scriptSource(name))) as string;
    assert.match(sha, /^[0-9a-f]{40}$/, name);
  }
  const lib = (await redis.call('FUNCTION', 'LOAD', 'REPLACE', librarySource())) as string;
  assert.match(lib, /^conveyor_[0-9a-f]{12}$/);
});

for (const mode of ['function', 'script'] as const) {
  test(`a Lua runtime error names its .lua file and line (${mode} mode)`, async () => {
    const scripts = new Scripts(redis);
    if (mode === 'function') await scripts.init();
    assert.equal(scripts.mode, mode);
    // finish with a count that is not a number: `n - 1` fails on the line that loops.
    const head = [`{${prefix}}:`, Date.now(), '', '', 100];
    const err = (await scripts.run('finish', `{${prefix}}:events`, [...head, 'not-a-number']).catch((e: Error) => e)) as Error;
    assert.ok(err instanceof Error);
    const m = /\(at src\/stores\/redis\/lua\/finish\.lua:(\d+)\)$/.exec(err.message);
    assert.ok(m, err.message);
    const line = readFileSync(new URL('../../src/stores/redis/lua/finish.lua', import.meta.url), 'utf8').split('\n')[Number(m[1]) - 1];
    assert.match(line, /n - 1/, `line ${m[1]} of finish.lua is where the error is: ${line}`);
  });
}

test("loading drops other Conveyor versions' libraries; a process whose library was dropped loads it again on its next call", async () => {
  const other = 'conveyor_000000000000';
  await redis.call('FUNCTION', 'LOAD', 'REPLACE', `#!lua name=${other}\nredis.register_function('${other}_x', function() return 1 end)`);
  await redis.call('FUNCTION', 'LOAD', 'REPLACE', "#!lua name=someone_else\nredis.register_function('someone_else_x', function() return 1 end)");
  try {
    const scripts = new Scripts(redis);
    await scripts.init();
    const names = ((await redis.call('FUNCTION', 'LIST')) as unknown[][]).map((lib) => String(lib[lib.indexOf('library_name') + 1]));
    assert.ok(!names.includes(other), 'the other version is gone');
    assert.ok(names.includes('someone_else'), "a library that is not Conveyor's stays");
    const ours = /#!lua name=(\w+)/.exec(librarySource())![1];
    assert.ok(names.includes(ours));
    // As if another version's process had just dropped ours: the next call loads it again.
    await redis.call('FUNCTION', 'DELETE', ours);
    const head = [`{${prefix}}:`, Date.now(), '', '', 100];
    assert.ok(Array.isArray(await scripts.run('peek', `{${prefix}}:events`, [...head, 'q'])), 'the call succeeds');
    const after = ((await redis.call('FUNCTION', 'LIST')) as unknown[][]).map((lib) => String(lib[lib.indexOf('library_name') + 1]));
    assert.ok(after.includes(ours));
  } finally {
    await redis.call('FUNCTION', 'DELETE', 'someone_else').catch(() => undefined);
    await redis.call('FUNCTION', 'DELETE', other).catch(() => undefined);
  }
});
