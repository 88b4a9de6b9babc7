/**
 * A redis-server of the test's own on a spare loopback port, for tests that restart the
 * server or change its settings (never done to the machine's shared Redis).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

async function sparePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  srv.close();
  await once(srv, 'close');
  return port;
}

export class OwnRedis {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  private readonly extra: string[];
  private proc: ChildProcess | null = null;

  private constructor(dir: string, port: number, extra: string[]) {
    this.dir = dir;
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.extra = extra;
  }

  /** Starts a server that writes every change to its AOF before it replies. */
  static async start(extra: string[] = []): Promise<OwnRedis> {
    const r = new OwnRedis(mkdtempSync(join(tmpdir(), 'conveyor-redis-')), await sparePort(), extra);
    await r.launch();
    return r;
  }

  /** A port and a data directory, with no server yet: `launch()` starts it (a Redis that is late). */
  static async reserve(extra: string[] = []): Promise<OwnRedis> {
    return new OwnRedis(mkdtempSync(join(tmpdir(), 'conveyor-redis-')), await sparePort(), extra);
  }

  async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    args.push('--dir', this.dir, '--logfile', join(this.dir, 'redis.log'), ...this.extra);
    this.proc = spawn('redis-server', args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const c = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        await c.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} did not start; see ${this.dir}/redis.log`);
        await sleep(20);
      } finally {
        c.disconnect();
      }
    }
  }

  /** kill -9 the server, then start it again on the same port and data directory. */
  async crashAndRestart(downMs: number): Promise<void> {
    await this.kill();
    await sleep(downMs);
    await this.launch();
  }

  private async kill(): Promise<void> {
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
