/**
 * The Lua scripts: one shared library (lua/lib.ts) and one body per operation.
 *
 * On Redis 7+ they are loaded once as a Redis Functions library, so each call runs only its
 * body: as a script, every call first re-ran the whole library (~20 µs of Redis time: it
 * defines ~50 functions), which was a fifth of a single add. On older servers, or where
 * FUNCTION is not allowed, they run as scripts (EVALSHA; ioredis re-sends the source once
 * after a NOSCRIPT). The library's name carries a hash of its source, so processes running
 * different Conveyor versions on one Redis each call their own.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CLAIM } from './lua/claim.ts';
import { ENQUEUE } from './lua/enqueue.ts';
import { LIB } from './lua/lib.ts';
import { CANCEL, CLEAN, CONFIGURE, PROMOTE, REMOVE, RETRY } from './lua/admin-writes.ts';
import { LEAD, RESIGN } from './lua/leadership.ts';
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
  lead: LEAD,
  resign: RESIGN,
} as const;

export type ScriptName = keyof typeof BODIES;
const NAMES = Object.keys(BODIES) as ScriptName[];

/** Full source of one operation as a script (exported for tests that check it compiles). */
export function scriptSource(name: ScriptName): string {
  return `${LIB}\nbegin(KEYS, ARGV)\n${BODIES[name]}`;
}

const LIBRARY = `conveyor_${createHash('sha1')
  .update(LIB + NAMES.map((n) => BODIES[n]).join('\n'))
  .digest('hex')
  .slice(0, 12)}`;

/** The whole library as Redis Functions source: one function per operation. */
export function librarySource(): string {
  const fns = NAMES.map((n) => `redis.register_function('${LIBRARY}_${n}', function(KEYS, ARGV)\nbegin(KEYS, ARGV)\n${BODIES[n]}\nend)`);
  return `#!lua name=${LIBRARY}\n${LIB}\n${fns.join('\n')}\n`;
}

const COMMAND_PREFIX = 'conveyor_';
type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<unknown>;

export class Scripts {
  private readonly redis: Redis;
  private functions = false;

  constructor(redis: Redis) {
    this.redis = redis;
    for (const name of NAMES) redis.defineCommand(COMMAND_PREFIX + name, { numberOfKeys: 1, lua: scriptSource(name) });
  }

  /** 'function' when the library is loaded as Redis Functions, else 'script'. */
  get mode(): 'function' | 'script' {
    return this.functions ? 'function' : 'script';
  }

  /** Loads the library as Redis Functions if the server allows; scripts otherwise. */
  async init(): Promise<void> {
    try {
      await this.load();
      this.functions = true;
    } catch {
      // Redis before 7.0, or FUNCTION denied by ACL: scripts do the same work.
      this.functions = false;
    }
  }

  private async load(): Promise<void> {
    await this.redis.call('FUNCTION', 'LOAD', 'REPLACE', librarySource());
  }

  /** Runs an operation: `key` is the event stream, `args` all of ARGV. */
  async run(name: ScriptName, key: string, args: (string | number)[]): Promise<unknown> {
    if (!this.functions) {
      const fn = (this.redis as unknown as Record<string, ScriptFn>)[COMMAND_PREFIX + name];
      return fn.call(this.redis, key, ...args);
    }
    try {
      return await this.redis.call('FCALL', `${LIBRARY}_${name}`, 1, key, ...args);
    } catch (err) {
      // A restarted Redis without persistence (or a FUNCTION FLUSH) forgot the library.
      if (!/function not found/i.test((err as Error)?.message ?? '')) throw err;
      await this.load();
      return this.redis.call('FCALL', `${LIBRARY}_${name}`, 1, key, ...args);
    }
  }
}
