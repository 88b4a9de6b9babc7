/**
 * What the PostgreSQL tests share: the machine's server URL, a schema name no other run
 * uses, and a cleanup that drops only that schema (never a database it did not create).
 */
import pg from 'pg';

export const PG_URL = process.env.CONVEYOR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export function uniqueSchema(label: string): string {
  return `t_${label}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase().slice(0, 41);
}

/** Drops a schema this run created, with everything in it. */
export async function dropSchema(schema: string, url = PG_URL): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
