/**
 * The backends runtime tests (Queue, Worker) run on. Each factory returns a fresh,
 * isolated store; tests that are about a store's own behaviour live in test/contract/.
 */
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import type { Store } from '../../src/stores/store.ts';

export interface Backend {
  name: string;
  open(): Promise<Store>;
}

export const BACKENDS: Backend[] = [{ name: 'memory', open: async () => new MemoryStore() }];
