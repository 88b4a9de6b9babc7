/**
 * The Lua: lib.lua shared by every operation, and one file per operation (lua/*.lua),
 * read from disk when this module loads, behind a one-line header of constants generated
 * from TypeScript (lua/header.ts).
 *
 * On Redis 7+ they are loaded once as a Redis Functions library, so each call runs only its
 * body: as a script, every call first re-ran the whole library (~20 µs of Redis time: it
 * defines ~50 functions), which was a fifth of a single add. On older servers, or where
 * FUNCTION is not allowed, they run as scripts (EVALSHA; ioredis re-sends the source once
 * after a NOSCRIPT). The library's name carries a hash of its source, so processes running
 * different Conveyor versions on one Redis each call their own.
 *
 * Redis names a failing line by its number in the source it was sent; `where()` turns that
 * into the .lua file and line, and errors from scripts carry it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { ConnectionError } from '../../core/errors.ts';
import type { RedisClient } from './connection.ts';
import { luaHeader } from './lua/header.ts';

const NAMES = ['enqueue', 'claim', 'extend', 'finish', 'finish-claim', 'update', 'cancel', 'remove', 'retry', 'promote', 'clean', 'configure', 'maintain', 'peek', 'lead', 'resign', 'advance-schedule', 'unclaim'] as const;
export type ScriptName = (typeof NAMES)[number];

function read(file: string): string {
  return readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8').replace(/\n*$/, '\n');
}

const HEADER = luaHeader();
const LIB = read('lib.lua');
/** Operations made of others run in turn in one call, each reading its ARGV after the last. */
const COMPOSED = new Set<ScriptName>(['finish-claim']);
const BODIES = Object.fromEntries(NAMES.filter((n) => !COMPOSED.has(n)).map((n) => [n, read(`${n}.lua`)])) as Record<ScriptName, string>;

/** Where the lines of a composed source come from: [first line, file] in order. */
type LineMap = [number, string][];

function lines(text: string): number {
  return text.split('\n').length - 1;
}

/** Builds a source from parts (text and the file it comes from, or null for glue). */
function compose(parts: [string, string | null][]): { source: string; map: LineMap } {
  let line = 1;
  const map: LineMap = [];
  for (const [text, file] of parts) {
    map.push([line, file ?? '(generated)']);
    line += lines(text);
  }
  return { source: parts.map(([t]) => t).join(''), map };
}

/**
 * An operation's body as parts of source. finish-claim (Store.finishAndClaim) is finish.lua
 * then claim.lua, each in a function of its own; claim's arguments follow finish's, so its
 * `A` (where its ARGV starts) is shadowed, never changed: the library's state outlives calls.
 */
function bodyOf(name: ScriptName): [string, string | null][] {
  if (name !== 'finish-claim') return [[BODIES[name], `${name}.lua`]];
  return [
    ['local finished = (function()\n', null],
    [BODIES.finish, 'finish.lua'],
    ['end)()\nlocal claimed = (function(A)\n', null],
    [BODIES.claim, 'claim.lua'],
    ['end)(A + 1 + tonumber(ARGV[A]) * FINISH_FIELDS)\nreturn {finished, claimed}\n', null],
  ];
}

function scriptOf(name: ScriptName) {
  return compose([[`${HEADER}\n`, 'header.ts'], [LIB, 'lib.lua'], ['begin(KEYS, ARGV)\n', null], ...bodyOf(name)]);
}

/** Full source of one operation as a script (for tests that load every script). */
export function scriptSource(name: ScriptName): string {
  return scriptOf(name).source;
}

const LIBRARY = `conveyor_${createHash('sha1')
  .update(HEADER + LIB + NAMES.map((n) => bodyOf(n).map(([t]) => t).join('')).join('\n'))
  .digest('hex')
  .slice(0, 12)}`;

/** Redis function names take letters, digits and underscores only. */
function functionName(name: ScriptName): string {
  return `${LIBRARY}_${name.replace(/-/g, '_')}`;
}

const FUNCTIONS = compose([
  [`#!lua name=${LIBRARY}\n`, null],
  [`${HEADER}\n`, 'header.ts'],
  [LIB, 'lib.lua'],
  ...NAMES.flatMap((n): [string, string | null][] => [
    [`redis.register_function('${functionName(n)}', function(KEYS, ARGV)\nbegin(KEYS, ARGV)\n`, null],
    ...bodyOf(n),
    ['end)\n', null],
  ]),
]);

/** The whole library as Redis Functions source: one function per operation. */
export function librarySource(): string {
  return FUNCTIONS.source;
}

/** A line of a composed source as `file:line`. */
function locate(map: LineMap, line: number): string {
  let at = map[0];
  for (const entry of map) if (entry[0] <= line) at = entry;
  return `${at[1]}:${line - at[0] + 1}`;
}

/** The .lua file and line a Redis script error names, added to its message. */
export function where(err: unknown, name: ScriptName, mode: 'function' | 'script'): unknown {
  if (!(err instanceof Error)) return err;
  const m = /user_(?:script|function):(\d+)/.exec(err.message);
  if (!m) return err;
  const map = mode === 'function' ? FUNCTIONS.map : scriptOf(name).map;
  err.message += ` (at src/stores/redis/lua/${locate(map, Number(m[1]))})`;
  return err;
}

const COMMAND_PREFIX = 'conveyor_';
type ScriptFn = (key: string, ...args: (string | number)[]) => Promise<unknown>;

export class Scripts {
  private readonly redis: RedisClient;
  private functions = false;

  constructor(redis: RedisClient) {
    this.redis = redis;
    for (const name of NAMES) redis.defineCommand(COMMAND_PREFIX + name, { numberOfKeys: 1, lua: scriptSource(name) });
  }

  /** 'function' when the library is loaded as Redis Functions, else 'script'. */
  get mode(): 'function' | 'script' {
    return this.functions ? 'function' : 'script';
  }

  /**
   * Loads the library as Redis Functions if the server allows; scripts otherwise. Then drops
   * the libraries of other Conveyor versions: every call pays for each library the server
   * holds (its Lua heap, which the collector walks: ~2 µs per extra library per call,
   * measured), and each upgrade would leave one more. A process of another version that
   * still runs loads its own again on its next call (as after a restart that forgot it);
   * only this first load drops others, so two versions side by side do not take turns.
   */
  async init(): Promise<void> {
    try {
      await this.load();
      this.functions = true;
    } catch {
      // Redis before 7.0, or FUNCTION denied by ACL: scripts do the same work.
      this.functions = false;
      return;
    }
    await this.dropOtherVersions().catch(() => undefined);
  }

  private async dropOtherVersions(): Promise<void> {
    const targets = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    for (const r of targets) {
      const libs = (await r.call('FUNCTION', 'LIST', 'LIBRARYNAME', 'conveyor_*')) as unknown[][];
      const names = libs.map((lib) => String(lib[lib.indexOf('library_name') + 1]));
      for (const name of names) {
        if (name !== LIBRARY && /^conveyor_[0-9a-f]{12}$/.test(name)) await r.call('FUNCTION', 'DELETE', name);
      }
    }
  }

  private async load(): Promise<void> {
    // A Cluster runs a function on the master of its key's slot: every master gets the
    // library (replicas receive it from their master, so a promoted one has it).
    const targets = this.redis instanceof Cluster ? this.redis.nodes('master') : [this.redis];
    await Promise.all(targets.map((r) => r.call('FUNCTION', 'LOAD', 'REPLACE', librarySource())));
  }

  /**
   * Runs an operation: `key` is the event stream, `args` all of ARGV. With `replicas`, the
   * reply waits until that many replicas have the write (WAIT, sent right behind it on the
   * same connection: a Cluster pipeline goes to the master of the key's slot).
   */
  async run(name: ScriptName, key: string, args: (string | number)[], replicas?: { count: number; timeoutMs: number }): Promise<unknown> {
    try {
      if (!replicas || replicas.count === 0) return await this.call(name, key, args);
      return await this.callAndWait(name, key, args, replicas.count, replicas.timeoutMs);
    } catch (err) {
      throw where(err, name, this.mode);
    }
  }

  private async call(name: ScriptName, key: string, args: (string | number)[]): Promise<unknown> {
    if (!this.functions) {
      const fn = (this.redis as unknown as Record<string, ScriptFn>)[COMMAND_PREFIX + name];
      return fn.call(this.redis, key, ...args);
    }
    try {
      return await this.redis.call('FCALL', functionName(name), 1, key, ...args);
    } catch (err) {
      if (!forgotten(err)) throw err;
      await this.load();
      return this.redis.call('FCALL', functionName(name), 1, key, ...args);
    }
  }

  private async callAndWait(name: ScriptName, key: string, args: (string | number)[], count: number, timeoutMs: number): Promise<unknown> {
    const send = async () => {
      const p = this.redis.pipeline();
      if (this.functions) p.call('FCALL', functionName(name), 1, key, ...args);
      else (p as unknown as Record<string, ScriptFn>)[COMMAND_PREFIX + name].call(p, key, ...args);
      p.call('WAIT', count, timeoutMs);
      const [[err, reply], [waitErr, acked]] = (await p.exec()) as [Error | null, unknown][];
      if (err) throw err;
      if (waitErr) throw waitErr;
      if (Number(acked) < count) {
        throw new ConnectionError(
          `the write reached the Redis primary but only ${Number(acked)} of ${count} replicas confirmed it within ${timeoutMs} ms; ` +
            'it may be lost if the primary fails now (adding again with the same job ids is safe)',
        );
      }
      return reply;
    };
    for (let tries = 1; ; tries++) {
      try {
        return await send();
      } catch (err) {
        if (tries >= 3) throw err;
        if (this.functions && forgotten(err)) await this.load();
        // A Cluster pipeline that meets a moved slot fails instead of following it (the
        // keyless WAIT is refused, not moved): a plain command on the key follows the
        // redirection and updates the client's slot map.
        else if (/^(MOVED|ASK) /.test((err as Error)?.message ?? '')) await this.redis.call('EXISTS', key);
        else throw err;
      }
    }
  }
}

/** A restarted Redis without persistence (or a FUNCTION FLUSH) forgot the library. */
function forgotten(err: unknown): boolean {
  return /function not found/i.test((err as Error)?.message ?? '');
}
