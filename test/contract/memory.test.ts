import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import { runContract } from './contract.ts';

runContract('memory', async (clock) => new MemoryStore({ clock }));
