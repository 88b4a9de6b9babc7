/**
 * A fixture process of the Redis tests, run with this Node, whose stdout lines a test can
 * wait for. Its stderr is kept to explain a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export class Child {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly lines: string[] = [];
  private stderr = '';
  private readonly onLine = new Set<(line: string) => void>();

  constructor(file: string, args: string[]) {
    this.child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = once(this.child, 'exit').then(([code]) => code as number | null);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      for (const f of this.onLine) f(line);
    });
    this.child.stderr!.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
  }

  /** The first stdout line matching `re`, seen already or to come. */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => re.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, line?: string) => {
        clearTimeout(timer);
        this.onLine.delete(check);
        if (err) reject(err);
        else resolve(line!);
      };
      const check = (line: string) => re.test(line) && done(null, line);
      const timer = setTimeout(() => done(new Error(`no line matching ${re} in ${timeoutMs} ms; stderr: ${this.stderr}`)), timeoutMs);
      this.onLine.add(check);
      void this.exited.then((code) => done(new Error(`exited (${code}) before a line matching ${re}; stderr: ${this.stderr}`)));
    });
  }
}
