import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openStore } from '../../src/stores/open.ts';
import { multiprocessSuite } from './multiprocess-suite.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-mp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

multiprocessSuite('SQLite', (name) => {
  const spec = join(dir, `${name}.db`);
  return { spec, env: {}, open: () => openStore(spec) };
});
