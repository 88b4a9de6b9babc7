// The runner suite on every backend the runtime tests use (test/helpers/stores.ts).
import { BACKENDS } from '../helpers/stores.ts';
import { runRunnerSuite } from './runner-suite.ts';

for (const backend of BACKENDS) runRunnerSuite(backend.name, () => backend.open());
