/**
 * Which Conveyor a command talks to, from the global flags and the environment:
 * --server (or the multiprocessing-manager style --host/--port/--authkey) → a server; else --redis → Redis;
 * else --postgres → PostgreSQL; else --db → a SQLite file (default ./conveyor.db).
 */
import type { Command } from 'commander';
import { HttpClient } from '../client/http.ts';
import { LocalClient } from '../client/local.ts';
import type { Client } from '../client/client.ts';
import { ConnectionError, ConveyorError, ValidationError } from '../core/errors.ts';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openStore, openStoreWaiting, sqlitePathOf, storeSpecFrom, type WaitForStore } from '../stores/open.ts';
import type { Store } from '../stores/store.ts';

export interface GlobalOptions {
  db?: string;
  redis?: string;
  postgres?: string;
  schema?: string;
  prefix?: string;
  server?: string;
  token?: string;
  host?: string;
  port?: string;
  authkey?: string;
  json?: boolean;
  verbose?: boolean;
}

export function addGlobalOptions(program: Command): Command {
  return program
    // Every command's --help lists these too: where a command points is always a question.
    .configureHelp({ showGlobalOptions: true })
    .option('--db <path>', 'SQLite file to use (env CONVEYOR_DB)', undefined)
    .option('--redis <url>', 'Redis URL to use: redis://127.0.0.1:6379, redis+cluster://h:7000,h:7001 or redis+sentinel://h:26379/<name>; ?replicas=1 to acknowledge adds once a replica has them (env CONVEYOR_REDIS_URL)')
    .option('--postgres <url>', 'PostgreSQL URL to use, e.g. postgres://user@127.0.0.1:5432/app (env CONVEYOR_POSTGRES_URL)')
    .option('--schema <name>', 'PostgreSQL schema for the tables (env CONVEYOR_PG_SCHEMA; default "conveyor")')
    .option('--prefix <prefix>', 'Redis key prefix (env CONVEYOR_PREFIX; default "conveyor")')
    .option('--server <url>', 'talk to a Conveyor server, e.g. http://127.0.0.1:7700 (env CONVEYOR_SERVER)')
    .option('--token <token>', 'bearer token for --server (env CONVEYOR_TOKEN)')
    .option('--host <host>', 'server host, multiprocessing-manager style (same as --server http://HOST:PORT)')
    .option('--port <port>', 'server port, multiprocessing-manager style')
    .option('--authkey <key>', 'same as --token (multiprocessing-manager style)')
    .option('--json', 'print machine-readable JSON')
    .option('--verbose', 'print stack traces with errors');
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function serverUrl(o: GlobalOptions, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (o.server) return o.server;
  if (o.host || o.port) return `http://${o.host ?? '127.0.0.1'}:${o.port ?? '7700'}`;
  if (o.db || o.redis || o.postgres) return undefined;
  return env.CONVEYOR_SERVER || undefined;
}

/**
 * Opens the store the flags name (for commands that need a store, like `worker`). With
 * `wait`, a store that cannot be reached yet is waited for (serve and worker).
 */
export async function openTargetStore(o: GlobalOptions, env = process.env, wait?: WaitForStore): Promise<Store> {
  const spec = storeSpecFrom(storeFlags(o), env);
  const prefix = o.prefix ?? env.CONVEYOR_PREFIX;
  const schema = o.schema ?? env.CONVEYOR_PG_SCHEMA;
  const options = { ...(prefix === undefined ? {} : { prefix }), ...(schema === undefined ? {} : { schema }) };
  try {
    return wait ? await openStoreWaiting(spec, options, wait) : await openStore(spec, options);
  } catch (err) {
    if (err instanceof ConveyorError) throw err;
    throw new ConnectionError(`cannot open the store ${spec}: ${(err as Error).message}`, { cause: err });
  }
}

/** The store flags of a command line. */
export function storeFlags(o: GlobalOptions): { redis?: string | undefined; db?: string | undefined; postgres?: string | undefined } {
  return { redis: o.redis, db: o.db, postgres: o.postgres };
}

export async function openClient(o: GlobalOptions, env = process.env): Promise<Client> {
  const url = serverUrl(o, env);
  if (url) return new HttpClient(url, o.token ?? o.authkey ?? env.CONVEYOR_TOKEN);
  return new LocalClient(await openTargetStore(o, env));
}

/**
 * Runs `fn` with a client for the command's target and closes it after. A read-only
 * command (`readOnly`) never creates a SQLite file: a missing one is "no such database".
 */
export async function withClient<T>(cmd: Command, fn: (client: Client, o: GlobalOptions) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const o = globals(cmd);
  if (options.readOnly && !serverUrl(o, process.env)) {
    const path = sqlitePathOf(storeSpecFrom(storeFlags(o), process.env));
    if (path !== null && path !== ':memory:' && !existsSync(path)) {
      throw new ConnectionError(`no such database: ${resolve(path)} (start with \`conveyor serve\` or \`conveyor add\`, or point --db at an existing file)`);
    }
  }
  const client = await openClient(o);
  try {
    return await fn(client, o);
  } finally {
    await client.close();
  }
}

/** withClient for commands that only read: they never create a database file. */
export function withReader<T>(cmd: Command, fn: (client: Client, o: GlobalOptions) => Promise<T>): Promise<T> {
  return withClient(cmd, fn, { readOnly: true });
}

/** What serve and worker do while their store cannot be reached: say so, and wait (`--wait-for-store` bounds it). */
export function waitingFor(flag: string | undefined): WaitForStore {
  const maxMs = flag === undefined ? undefined : Number(flag);
  if (maxMs !== undefined && !(Number.isInteger(maxMs) && maxMs >= 0)) throw new ValidationError(`--wait-for-store must be ms >= 0; got "${flag}"`, '--wait-for-store');
  return {
    ...(maxMs === undefined ? {} : { maxMs }),
    onWait: (err, next) => process.stderr.write(`conveyor: waiting for the store: ${err.message} (retrying in ${next} ms)\n`),
  };
}
