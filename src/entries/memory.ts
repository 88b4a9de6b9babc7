/** `conveyor/memory`: the in-memory store class, for code that builds one directly. */
export { MemoryStore, type MemoryStoreOptions } from '../stores/memory/memory-store.ts';
