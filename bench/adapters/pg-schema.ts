/** What the PostgreSQL systems share: the size of a schema after a run, and dropping it. */
import pg from 'pg';
import { PG_URL } from './adapter.ts';

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Tables, indexes and TOAST of every table in the schema, in MB. */
export function schemaSizeMb(schema: string): Promise<number> {
  return withClient(async (c) => {
    const r = await c.query(
      `SELECT COALESCE(sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))), 0)::float8 AS bytes FROM pg_tables WHERE schemaname = $1`,
      [schema],
    );
    return r.rows[0].bytes / 2 ** 20;
  });
}

export function dropSchema(schema: string): Promise<void> {
  return withClient(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  });
}
