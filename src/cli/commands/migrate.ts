/** `conveyor migrate`: brings a PostgreSQL schema to this version, for teams that migrate by hand. */
import type { Command } from 'commander';
import pg from 'pg';
import { ConnectionError, ValidationError } from '../../core/errors.ts';
import { storeSpecFrom } from '../../stores/open.ts';
import { out, printJson } from '../format.ts';
import { globals, storeFlags } from '../target.ts';

export function register(program: Command): void {
  program
    .command('migrate')
    .description('create or upgrade the PostgreSQL tables (stores also do this at open unless told not to)')
    .addHelpText(
      'after',
      `
Applies the schema versions this Conveyor knows and the database lacks, in one transaction,
under an advisory lock (safe while other processes open the store). SQLite files and Redis
need no step: they are brought up to date when opened.

Examples:
  $ conveyor migrate --postgres postgres://app@127.0.0.1:5432/app
  $ CONVEYOR_POSTGRES_URL=postgres://app@db/app conveyor migrate --schema jobs`,
    )
    .action(async (_f: unknown, cmd: Command) => {
      const o = globals(cmd);
      const spec = storeSpecFrom(storeFlags(o));
      if (!/^postgres(ql)?:\/\//i.test(spec)) {
        throw new ValidationError('migrate is for PostgreSQL: give --postgres URL (or CONVEYOR_POSTGRES_URL); SQLite files and Redis are brought up to date when opened', '--postgres');
      }
      const schema = o.schema ?? process.env.CONVEYOR_PG_SCHEMA ?? 'conveyor';
      const { migrate } = await import('../../stores/postgres/migrate.ts');
      const { redactUrl } = await import('../../stores/postgres/postgres-store.ts');
      const client = new pg.Client({ connectionString: spec, connectionTimeoutMillis: 10_000 });
      try {
        await client.connect();
      } catch (err) {
        throw new ConnectionError(`cannot connect to PostgreSQL at ${redactUrl(spec)}: ${(err as Error).message}`, { cause: err });
      }
      try {
        const r = await migrate(client, schema);
        if (o.json) return printJson(r);
        out(r.from === r.to ? `schema "${r.schema}" is up to date (version ${r.to})` : `schema "${r.schema}" migrated from version ${r.from} to ${r.to}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    });
}
