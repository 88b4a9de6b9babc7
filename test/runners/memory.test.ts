import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import { runRunnerSuite } from './runner-suite.ts';

runRunnerSuite('memory', async () => new MemoryStore());
