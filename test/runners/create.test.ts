import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValidationError } from '../../src/core/errors.ts';
import { MemoryStore } from '../../src/stores/memory/memory-store.ts';
import { createRunner, type CreateRunnerOptions } from '../../src/runners/create.ts';
import { ProcessRunner } from '../../src/runners/process.ts';
import { ThreadRunner } from '../../src/runners/thread.ts';
import { add, freshQueue } from '../contract/contract.ts';
import { finished, JOBS_MODULE, JS_MODULE, linesOf, startWorker } from './helpers.ts';

describe('createRunner', () => {
  test('rejects bad options with a ValidationError naming the field', () => {
    const bad: [unknown, string][] = [
      [null, 'options'],
      [{ kind: 'fiber', module: JOBS_MODULE }, 'kind'],
      [{ kind: 'thread' }, 'module'],
      [{ kind: 'thread', module: 'no/such/file.ts' }, 'module'],
      [{ kind: 'process', module: 'file:///no/such/file.ts' }, 'module'],
      [{ kind: 'process', module: JOBS_MODULE, export: 'not-an-identifier' }, 'export'],
      [{ kind: 'process', module: JOBS_MODULE, pool: -1 }, 'pool'],
      [{ kind: 'process', module: JOBS_MODULE, pool: 1.5 }, 'pool'],
      [{ kind: 'thread', module: JOBS_MODULE, isolate: 'yes' }, 'isolate'],
      [{ kind: 'thread', module: JOBS_MODULE, graceMs: -5 }, 'graceMs'],
      [{ kind: 'thread', module: JOBS_MODULE, graceMs: Number.NaN }, 'graceMs'],
      [{ kind: 'thread', module: JOBS_MODULE, execArgv: ['--no-warnings'] }, 'execArgv'],
      [{ kind: 'process', module: JOBS_MODULE, execArgv: '--no-warnings' }, 'execArgv'],
      [{ kind: 'inline', module: JOBS_MODULE, pool: 2 }, 'pool'],
      [{ kind: 'inline', module: JOBS_MODULE, export: 3 }, 'export'],
    ];
    for (const [options, field] of bad) {
      assert.throws(
        () => createRunner(options as CreateRunnerOptions),
        (err: unknown) => err instanceof ValidationError && err.field === field,
        `expected a ValidationError on ${field} for ${JSON.stringify(options)}`,
      );
    }
  });

  test('makes the runner of each kind; paths, file: URLs and URL objects all name the module', () => {
    assert.equal(createRunner({ kind: 'inline', module: JS_MODULE }).kind, 'inline');
    assert.ok(createRunner({ kind: 'thread', module: JS_MODULE.href }) instanceof ThreadRunner);
    assert.ok(createRunner({ kind: 'process', module: JS_MODULE.pathname, pool: 2, graceMs: 100 }) instanceof ProcessRunner);
  });

  test('the same JavaScript module runs unchanged inline, in a thread and in a child process', async () => {
    const store = new MemoryStore();
    const q = freshQueue('kinds');
    const worker = await startWorker(store, {
      queues: [q],
      handlers: {
        inline: createRunner({ kind: 'inline', module: JS_MODULE }),
        thread: createRunner({ kind: 'thread', module: JS_MODULE }),
        process: createRunner({ kind: 'process', module: JS_MODULE }),
      },
    });
    try {
      for (const kind of ['inline', 'thread', 'process']) {
        const { id } = await add(store, q, kind, { n: 21 });
        const job = await finished(store, id);
        assert.equal(job.state, 'completed', kind);
        assert.equal(job.result, 42, kind);
        // Threads and child processes capture console output into the job's logs.
        const expected = kind === 'inline' ? [] : ['doubling 21'];
        assert.deepEqual(linesOf(await store.logs(id), 'stdout'), expected, kind);
      }
    } finally {
      await worker.close();
      await store.close();
    }
  });
});
