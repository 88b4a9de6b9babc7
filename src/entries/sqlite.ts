/** `conveyor/sqlite`: the SQLite store class, for code that builds one directly. */
export { SqliteStore, type SqliteOptions } from '../stores/sqlite/sqlite-store.ts';
