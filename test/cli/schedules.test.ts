/** `conveyor schedule` on a SQLite file and against a server: add, list, pause, resume, remove, bad input. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, cliJson } from '../helpers/cli.ts';
import { serve, type ServeProc } from '../helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'conveyor-cli-sched-'));
let server: ServeProc | null = null;
after(async () => {
  server?.child.kill('SIGTERM');
  await server?.exited;
  rmSync(dir, { recursive: true, force: true });
});

interface Listed {
  id: string;
  queue: string;
  paused: boolean;
  upcoming: number[];
  tz: string;
}

for (const target of ['sqlite', 'server'] as const) {
  test(`schedule add, list with next runs in the zone, pause, resume, remove (${target})`, async () => {
    let args: string[];
    if (target === 'sqlite') args = ['--db', join(dir, 'cli.db')];
    else {
      server = await serve(['--db', join(dir, 'served.db')]);
      args = ['--server', server.url];
    }
    const added = await cli(['schedule', 'add', 'morning', '--name', 'report', '--cron', '0 9 * * 1-5', '--tz', 'Europe/Berlin', '-q', 'reports', '--data', '{"kind":"daily"}', ...args]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /scheduled morning on reports: cron "0 9 \* \* 1-5" Europe\/Berlin/);
    assert.equal((added.stdout.match(/next: \w{3} \d{4}-\d\d-\d\d 09:00 Europe\/Berlin/g) ?? []).length, 3, added.stdout);
    assert.equal((await cli(['schedule', 'add', 'beat', '--name', 'ping', '--every', '30s', ...args])).code, 0);
    const listed = await cliJson<Listed[]>(['schedule', 'list', ...args]);
    assert.deepEqual(listed.map((s) => [s.queue, s.id, s.upcoming.length]), [['default', 'beat', 3], ['reports', 'morning', 3]]);
    const table = await cli(['schedule', 'list', 'reports', ...args]);
    assert.match(table.stdout, /morning .*cron "0 9 \* \* 1-5" Europe\/Berlin .*report .*active/);
    assert.doesNotMatch(table.stdout, /beat/);
    assert.equal((await cliJson<Listed>(['schedule', 'pause', 'morning', '-q', 'reports', ...args])).paused, true);
    assert.match((await cli(['schedule', 'list', 'reports', ...args])).stdout, /paused/);
    assert.match((await cli(['schedule', 'resume', 'morning', '-q', 'reports', ...args])).stdout, /resumed schedule morning on reports; next run/);
    assert.equal((await cli(['schedule', 'remove', 'morning', '-q', 'reports', ...args])).code, 0);
    const missing = await cli(['schedule', 'remove', 'morning', '-q', 'reports', ...args]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /schedule morning not found/);
  });
}

test('bad schedules exit 1 with the reason and add nothing', async () => {
  const db = ['--db', join(dir, 'bad.db')];
  const cases: [string[], RegExp][] = [
    [['schedule', 'add', 'x', '--name', 't'], /either cron or every/],
    [['schedule', 'add', 'x', '--name', 't', '--cron', '* * * * *', '--every', '5s'], /either cron or every/],
    [['schedule', 'add', 'x', '--name', 't', '--cron', '0 25 * * *'], /cron/],
    [['schedule', 'add', 'x', '--name', 't', '--cron', '0 9 * * *', '--tz', 'Atlantis/City'], /time zone/],
    [['schedule', 'add', 'x', '--name', 't', '--every', 'soon'], /--every must be a duration/],
    [['schedule', 'add', 'x', '--name', 't', '--every', '5s', '--end-at', 'tomorrow-ish'], /--end-at/],
    [['schedule', 'add', 'x', '--name', 't', '--every', '5s', '--catch-up', 'some'], /catchUp/],
    [['schedule', 'add', 'x', '--every', '5s'], /--name/],
  ];
  for (const [argv, why] of cases) {
    const r = await cli([...argv, ...db]);
    assert.equal(r.code, 1, argv.join(' '));
    assert.match(r.stderr, why, argv.join(' '));
  }
  assert.deepEqual(await cliJson(['schedule', 'list', ...db]), []);
});
