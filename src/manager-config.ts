/**
 * The job manager's settings from a JSON file (`JobManager.open({ config })`,
 * `conveyor serve --config`): store, queue, limits, retention and the job types with their
 * runners. Every key is checked, and a wrong one is refused with its path
 * (`commands.resize.runner`), before anything opens.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ValidationError } from './core/errors.ts';
import { describe } from './core/options.ts';
import type { CommandSpec, ManagerOptions } from './manager.ts';
import { sqlitePathOf } from './stores/open.ts';

const TOP = ['store', 'queue', 'maxConcurrentJobs', 'maxQueueSize', 'overflow', 'retentionMs', 'shutdownTimeoutMs', 'work', 'commands'] as const;
const COMMAND = ['module', 'runner', 'export', 'pool', 'isolate', 'graceMs', 'useQueue', 'concurrency', 'limit', 'jobOptions'] as const;
const RUNNERS = ['inline', 'thread', 'process'];

/** Reads and checks a config file; module paths and a SQLite store path are taken relative to the file. */
export function readManagerConfig(path: string): ManagerOptions {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(`cannot read the config file ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'config');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`the config file ${path} is not valid JSON: ${(err as Error).message}`, 'config');
  }
  return parseManagerConfig(raw, dirname(resolve(path)), path);
}

export function parseManagerConfig(raw: unknown, baseDir: string, source = 'config'): ManagerOptions {
  const where = (key: string) => `${source}: ${key}`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ValidationError(`${source} must hold a JSON object`, 'config');
  const c = raw as Record<string, unknown>;
  for (const k of Object.keys(c)) {
    if (!(TOP as readonly string[]).includes(k)) throw new ValidationError(`${where(k)} is not a setting; settings: ${TOP.join(', ')}`, k);
  }
  if (c.store !== undefined && typeof c.store !== 'string') throw new ValidationError(`${where('store')} must be a store spec ("memory", a SQLite path, a redis:// URL); got ${describe(c.store)}`, 'store');
  if (c.queue !== undefined && typeof c.queue !== 'string') throw new ValidationError(`${where('queue')} must be a queue name`, 'queue');
  if (c.work !== undefined && typeof c.work !== 'boolean') throw new ValidationError(`${where('work')} must be true or false`, 'work');
  const commands: Record<string, CommandSpec> = {};
  if (c.commands !== undefined) {
    if (c.commands === null || typeof c.commands !== 'object' || Array.isArray(c.commands)) throw new ValidationError(`${where('commands')} must be an object of job types`, 'commands');
    for (const [name, spec] of Object.entries(c.commands as Record<string, unknown>)) {
      const key = (k: string) => `commands.${name}.${k}`;
      if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new ValidationError(`${where(`commands.${name}`)} must be an object`, `commands.${name}`);
      const s = spec as Record<string, unknown>;
      for (const k of Object.keys(s)) {
        if (!(COMMAND as readonly string[]).includes(k)) throw new ValidationError(`${where(key(k))} is not a command setting; settings: ${COMMAND.join(', ')}`, key(k));
      }
      if (typeof s.module !== 'string' || s.module === '') throw new ValidationError(`${where(key('module'))} must name the handler module (a path relative to the config file)`, key('module'));
      if (s.runner !== undefined && !RUNNERS.includes(s.runner as string)) throw new ValidationError(`${where(key('runner'))} must be one of ${RUNNERS.join(', ')}; got ${describe(s.runner)}`, key('runner'));
      const module = isAbsolute(s.module) ? s.module : resolve(baseDir, s.module);
      commands[name] = { ...(s as CommandSpec), module };
    }
  }
  // A SQLite path is relative to the config file; every other spec (URLs, memory) as written.
  const file = typeof c.store === 'string' ? sqlitePathOf(c.store) : null;
  const store = file !== null && !isAbsolute(file) ? resolve(baseDir, file) : (c.store as string | undefined);
  // Numbers and enums are checked by JobManager.open with the same names as keys.
  return { ...(c as ManagerOptions), ...(store === undefined ? {} : { store }), commands };
}
