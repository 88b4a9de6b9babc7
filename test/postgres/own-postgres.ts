/**
 * A PostgreSQL server of the test's own: a fresh cluster (initdb) on a spare loopback port,
 * for tests that crash and restart the server (never done to the machine's shared one).
 * As root, the server runs as the `postgres` user: PostgreSQL refuses to run as root.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { sparePort } from '../helpers/ports.ts';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/** The uid/gid to run the server as: the postgres user when this process is root. */
function runAs(): { uid: number; gid: number } | Record<string, never> {
  if (process.getuid?.() !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export class OwnPostgres {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  private readonly bin: string;
  private readonly user: ReturnType<typeof runAs>;
  private proc: ChildProcess | null = null;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.bin = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
    this.user = runAs();
  }

  static async start(): Promise<OwnPostgres> {
    const p = new OwnPostgres(mkdtempSync(join(tmpdir(), 'conveyor-pg-')), await sparePort());
    if ('uid' in p.user) chownSync(p.dir, p.user.uid, p.user.gid);
    execFileSync(join(p.bin, 'initdb'), ['-D', join(p.dir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], { ...p.user, stdio: 'ignore' });
    await p.launch();
    return p;
  }

  /** Starts the server and resolves when it says it accepts connections (its own log line on stderr). */
  async launch(): Promise<void> {
    const args = ['-D', join(this.dir, 'data'), '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${this.dir}`, '-c', 'fsync=on'];
    const proc = spawn(join(this.bin, 'postgres'), args, { ...this.user, stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: proc.stderr! }).on('line', (line) => {
        log += `${line}\n`;
        if (/database system is ready to accept connections/.test(line)) resolve();
      });
      proc.once('exit', (code) => reject(new Error(`postgres on port ${this.port} exited (${code}) before it was ready:\n${log.slice(-2000)}`)));
    });
  }

  /**
   * Crashes the server (immediate shutdown: no checkpoint, every connection cut, crash
   * recovery at the next start), then starts it again on the same port and data.
   */
  async crashAndRestart(downMs: number): Promise<void> {
    await this.halt('SIGQUIT');
    // The outage itself: producers and workers must ride out a server that stays away a while.
    await sleep(downMs);
    await this.launch();
  }

  private async halt(signal: NodeJS.Signals): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill(signal);
    await exited;
  }

  async stop(): Promise<void> {
    await this.halt('SIGQUIT');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
