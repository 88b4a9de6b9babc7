/** `conveyor/postgres`: the PostgreSQL store class and its migrations, for code that builds one directly (loads pg). */
export { PostgresStore, type PostgresOptions } from '../stores/postgres/postgres-store.ts';
export { migrate, type MigrationReport } from '../stores/postgres/migrate.ts';
