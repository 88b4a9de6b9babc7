import { MARK } from './protocol.ts';

/** A line longer than this is cut into pieces rather than buffered without bound. */
const MAX_LINE = 64 * 1024;

/**
 * Turns one output stream of a thread or child into lines, each tagged with the job
 * segment it was written in (the `seq` between the child's start and end markers, or null
 * for output between jobs). Text that precedes an end marker on the same line is the
 * job's unterminated last line: it is emitted then, so a partial line is never carried
 * over into the next job's output.
 */
export class LineSplitter {
  private buf = '';
  private segment: number | null = null;
  private readonly onLine: (line: string, seq: number | null) => void;
  private readonly onEnd: (seq: number) => void;

  constructor(onLine: (line: string, seq: number | null) => void, onEnd: (seq: number) => void) {
    this.onLine = onLine;
    this.onEnd = onEnd;
  }

  push(chunk: string): void {
    this.buf += chunk;
    let start = 0;
    for (let nl = this.buf.indexOf('\n'); nl !== -1; nl = this.buf.indexOf('\n', start)) {
      this.line(this.buf.slice(start, nl));
      start = nl + 1;
    }
    this.buf = start === 0 ? this.buf : this.buf.slice(start);
    while (this.buf.length > MAX_LINE) {
      // A NUL may start a marker whose end has not arrived yet: never cut through one.
      const nul = this.buf.indexOf('\u0000');
      if (nul !== -1 && nul < MAX_LINE) break;
      this.emit(this.buf.slice(0, MAX_LINE));
      this.buf = this.buf.slice(MAX_LINE);
    }
  }

  /** Emits what is left (the stream ended, e.g. the child exited mid-line). */
  flush(): void {
    if (this.buf.length > 0) this.line(this.buf);
    this.buf = '';
  }

  private line(raw: string): void {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const at = text.indexOf(MARK);
    if (at === -1) return this.emit(text);
    if (at > 0) this.emit(text.slice(0, at));
    const close = text.indexOf('\u0000', at + MARK.length);
    const [kind, seqText] = text.slice(at + MARK.length, close === -1 ? undefined : close).split(':');
    const seq = Number(seqText);
    if (kind === 'start') {
      this.segment = seq;
    } else if (kind === 'end') {
      this.segment = null;
      this.onEnd(seq);
    }
  }

  private emit(line: string): void {
    this.onLine(line, this.segment);
  }
}
