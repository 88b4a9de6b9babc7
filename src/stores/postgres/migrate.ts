/**
 * Schema migrations: applied in one transaction under an advisory lock keyed by the schema
 * name, so processes that open a fresh database at once take turns (the second finds the
 * work done). `conveyor migrate` calls the same function for teams that migrate by hand.
 */
import type { ClientBase } from 'pg';
import { ConnectionError, ValidationError } from '../../core/errors.ts';
import { MIGRATIONS, SCHEMA_NAME_RE, SCHEMA_VERSION } from './schema.ts';

export interface MigrationReport {
  schema: string;
  from: number;
  to: number;
}

export function checkSchemaName(schema: string): string {
  if (typeof schema !== 'string' || !SCHEMA_NAME_RE.test(schema)) {
    throw new ValidationError('the PostgreSQL schema must be a lower-case identifier (letters, digits, _; at most 41 characters)', 'schema');
  }
  return schema;
}

/** The schema's applied version: 0 when it has no Conveyor tables yet. */
export async function schemaVersion(client: ClientBase, schema: string): Promise<number> {
  const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`"${schema}".migrations`]);
  if (!exists.rows[0].ok) return 0;
  const r = await client.query(`SELECT COALESCE(MAX(version), 0)::int AS v FROM "${schema}".migrations`);
  return r.rows[0].v as number;
}

/** Brings `schema` to this build's version; refuses a schema a newer Conveyor wrote. */
export async function migrate(client: ClientBase, schema: string): Promise<MigrationReport> {
  checkSchemaName(schema);
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('conveyor.migrate'), hashtext($1))", [schema]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS "${schema}".migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
    const from = await schemaVersion(client, schema);
    if (from > SCHEMA_VERSION) {
      throw new ConnectionError(`PostgreSQL schema "${schema}" is at version ${from}, written by a newer Conveyor; this one knows up to ${SCHEMA_VERSION}: upgrade Conveyor`);
    }
    for (let v = from + 1; v <= SCHEMA_VERSION; v++) {
      await client.query(MIGRATIONS[v - 1].replaceAll('{s}', `"${schema}"`));
      await client.query(`INSERT INTO "${schema}".migrations (version) VALUES ($1)`, [v]);
    }
    await client.query('COMMIT');
    return { schema, from, to: SCHEMA_VERSION };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Fails unless the schema is at this build's version (for stores opened with migrate: false). */
export async function requireVersion(client: ClientBase, schema: string): Promise<void> {
  const v = await schemaVersion(client, schema);
  if (v !== SCHEMA_VERSION) {
    throw new ConnectionError(
      v < SCHEMA_VERSION
        ? `PostgreSQL schema "${schema}" is at version ${v}, this Conveyor needs ${SCHEMA_VERSION}: run \`conveyor migrate --postgres <url>\` (or open with migrate enabled)`
        : `PostgreSQL schema "${schema}" is at version ${v}, written by a newer Conveyor; this one knows up to ${SCHEMA_VERSION}: upgrade Conveyor`,
    );
  }
}
