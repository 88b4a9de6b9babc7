/**
 * A PgBouncer of the test's own on a spare loopback port, in front of the machine's
 * PostgreSQL (127.0.0.1:5432), in the pool mode asked for; stopped by pid. Runs as the
 * `postgres` user (PgBouncer refuses to run as root), from Debian's package (.ci/run
 * installs it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sparePort } from '../helpers/ports.ts';

const BIN = '/usr/sbin/pgbouncer';

export class OwnPgBouncer {
  readonly url: string;
  private readonly proc: ChildProcess;
  private readonly dir: string;
  private constructor(proc: ChildProcess, dir: string, port: number) {
    this.proc = proc;
    this.dir = dir;
    this.url = `postgres://postgres@127.0.0.1:${port}/test`;
  }

  static async start(poolMode: 'session' | 'transaction', extra: Record<string, string> = {}, users: string[] = []): Promise<OwnPgBouncer> {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: install Debian's pgbouncer package (apt-get install pgbouncer; .ci/run does)`);
    const dir = mkdtempSync(join(tmpdir(), 'conveyor-pgbouncer-'));
    chmodSync(dir, 0o777);
    const port = await sparePort();
    writeFileSync(join(dir, 'users.txt'), ['postgres', ...users].map((u) => `"${u}" ""\n`).join(''));
    const settings = { listen_addr: '127.0.0.1', listen_port: String(port), auth_type: 'trust', auth_file: join(dir, 'users.txt'), pool_mode: poolMode, unix_socket_dir: '', ...extra };
    writeFileSync(join(dir, 'pgbouncer.ini'), `[databases]\n* = host=127.0.0.1 port=5432\n[pgbouncer]\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`);
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    const proc = spawn(BIN, [join(dir, 'pgbouncer.ini')], { uid: id('-u'), gid: id('-g'), stdio: ['ignore', 'ignore', 'pipe'] });
    // Ready once it says so ("process up"), or failed once it exits.
    await new Promise<void>((resolve, reject) => {
      let stderr = '';
      proc.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('process up')) resolve();
      });
      proc.once('exit', () => reject(new Error(`pgbouncer did not start: ${stderr}`)));
    });
    return new OwnPgBouncer(proc, dir, port);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once('exit', r));
      this.proc.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
