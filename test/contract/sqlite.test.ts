import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { SqliteStore } from '../../src/stores/sqlite/sqlite-store.ts';
import { runContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));

runContract('sqlite', async (clock) => SqliteStore.open(join(dir, 'contract.db'), { clock }));
