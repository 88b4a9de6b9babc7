/**
 * Errors cross the thread/process boundary as plain data: structured clone keeps only
 * the message and stack of an Error, and drops its class. We keep name and code too, and
 * rebuild Conveyor's own errors by code so `instanceof UnrecoverableError` still holds in
 * the Worker (it decides whether to retry on that).
 */
import { AbortedError, ConveyorError, TimeoutError, UnrecoverableError } from '../../core/errors.ts';

export interface WireError {
  name: string;
  message: string;
  stack: string | null;
  code: string | null;
}

export function toWire(err: unknown): WireError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, stack: err.stack ?? null, code: typeof code === 'string' ? code : null };
  }
  return { name: 'Error', message: typeof err === 'string' ? err : safeJson(err), stack: null, code: null };
}

const REBUILT: Record<string, new (message: string) => ConveyorError> = {
  UNRECOVERABLE: UnrecoverableError,
  ABORTED: AbortedError,
  TIMEOUT: TimeoutError,
};

export function fromWire(w: WireError): Error {
  const Rebuilt = w.code === null ? undefined : REBUILT[w.code];
  const err: Error = Rebuilt ? new Rebuilt(w.message) : new Error(w.message);
  err.name = w.name;
  if (w.code !== null && !Rebuilt) Object.assign(err, { code: w.code });
  // The stack is the one from where the error was thrown, in the thread or child.
  err.stack = w.stack ?? `${w.name}: ${w.message}`;
  return err;
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
