/**
 * The Lua scripts, each the shared library plus one body, registered on a connection with
 * defineCommand: ioredis sends EVALSHA and falls back to EVAL once after a NOSCRIPT (a
 * restarted or failed-over Redis), so each script crosses the wire in full only then.
 */
import type { Redis } from 'ioredis';
import { CLAIM } from './lua/claim.ts';
import { ENQUEUE } from './lua/enqueue.ts';
import { LIB } from './lua/lib.ts';
import { CANCEL, CLEAN, CONFIGURE, PROMOTE, REMOVE, RETRY } from './lua/admin-writes.ts';
import { MAINTAIN, PEEK } from './lua/upkeep.ts';
import { EXTEND, FINISH, UPDATE } from './lua/worker-writes.ts';

const BODIES = {
  enqueue: ENQUEUE,
  claim: CLAIM,
  extend: EXTEND,
  finish: FINISH,
  update: UPDATE,
  cancel: CANCEL,
  remove: REMOVE,
  retry: RETRY,
  promote: PROMOTE,
  clean: CLEAN,
  configure: CONFIGURE,
  maintain: MAINTAIN,
  peek: PEEK,
} as const;

export type ScriptName = keyof typeof BODIES;

/** Full source of a script (exported for tests that check the library compiles). */
export function scriptSource(name: ScriptName): string {
  return LIB + BODIES[name];
}

const COMMAND_PREFIX = 'conveyor_';

export function defineScripts(redis: Redis): void {
  for (const name of Object.keys(BODIES) as ScriptName[]) {
    redis.defineCommand(COMMAND_PREFIX + name, { numberOfKeys: 1, lua: scriptSource(name) });
  }
}

type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/** Runs a script defined by defineScripts: `key` is the event stream, `args` all of ARGV. */
export function runScript(redis: Redis, name: ScriptName, key: string, args: (string | number)[]): Promise<unknown> {
  const fn = (redis as unknown as Record<string, ScriptFn>)[COMMAND_PREFIX + name];
  return fn.call(redis, key, ...args);
}
