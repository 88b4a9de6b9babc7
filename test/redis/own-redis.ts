/**
 * A redis-server of the test's own on a spare loopback port, for tests that restart the
 * server or change its settings (never done to the machine's shared Redis), or a
 * valkey-server (the same protocol and options).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { sparePort } from '../helpers/ports.ts';
import { watchLines, type Proc } from '../helpers/procs.ts';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export class OwnRedis {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  private readonly extra: string[];
  private readonly bin: string;
  private proc: ChildProcess | null = null;
  /** What the running server logs (its stdout), to wait on. */
  out: Proc | null = null;

  private constructor(dir: string, port: number, extra: string[], bin: string) {
    this.dir = dir;
    this.bin = bin;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.extra = extra;
  }

  /** Starts a server that writes every change to its AOF before it replies (`extra` may say otherwise). */
  static async start(extra: string[] = [], bin = 'redis-server'): Promise<OwnRedis> {
    const r = new OwnRedis(mkdtempSync(join(tmpdir(), 'conveyor-redis-')), await sparePort(), extra, bin);
    await r.launch();
    return r;
  }

  /** A port and a data directory, with no server yet: `launch()` starts it (a Redis that is late). */
  static async reserve(extra: string[] = []): Promise<OwnRedis> {
    return new OwnRedis(mkdtempSync(join(tmpdir(), 'conveyor-redis-')), await sparePort(), extra, 'redis-server');
  }

  async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    args.push('--dir', this.dir, ...this.extra);
    this.out = await startRedisServer(args, this.bin);
    this.proc = this.out.child;
  }

  /** kill -9 the server, then start it again on the same port and data directory. */
  async crashAndRestart(downMs: number): Promise<void> {
    await this.kill();
    await sleep(downMs);
    await this.launch();
  }

  /** kill -9 the server (launch() starts it again on the same port and data). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts redis-server (or `bin`) with these arguments, logging to its stdout, and resolves
 * once it says it is ready (its log line, not a connect-and-retry loop).
 */
export async function startRedisServer(args: string[], bin = 'redis-server'): Promise<Proc> {
  const child = spawn(bin, [...args, '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  // A binary that is not installed: say which and where it comes from, at once.
  const missing = once(child, 'error').then(([err]: Error[]) => {
    throw new Error(`cannot start ${bin}: ${err.message} (.ci/run installs it from Debian)`);
  });
  const proc = watchLines(child);
  await Promise.race([proc.waitFor(/Ready to accept connections/, 20_000), missing]);
  return proc;
}
