/**
 * One request to a Conveyor server's HTTP API: JSON in and out, the bearer token, and the
 * server's error answers turned back into the typed errors a local store throws. A server
 * that cannot be reached is a ConnectionError that says how to start one.
 */
import { injectTraceHeaders } from '../../telemetry/tracing.ts';
import { ConnectionError, ConveyorError, NotFoundError, QueueFullError, StateError, ValidationError } from '../../core/errors.ts';

export interface ServerTarget {
  /** Base URL without a trailing slash. */
  base: string;
  token: string | undefined;
}

/** Parses a server URL; a bad one is a ValidationError naming --server. */
export function serverTarget(url: string, token?: string): ServerTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValidationError(`--server must be a URL like http://127.0.0.1:7700; got "${url}"`, 'server');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ValidationError(`--server must be an http:// or https:// URL; got "${url}"`, 'server');
  return { base: parsed.href.replace(/\/+$/, ''), token: token || undefined };
}

export function authHeaders(t: ServerTarget): Record<string, string> {
  return t.token ? { authorization: `Bearer ${t.token}` } : {};
}

export async function request<T>(t: ServerTarget, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(t.base + path, {
      method,
      headers: injectTraceHeaders({ ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...authHeaders(t) }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ConnectionError(`cannot reach the Conveyor server at ${t.base} (${causeOf(err)}); start it with \`conveyor serve\``, { cause: err });
  }
  return answer<T>(t, res);
}

/** The payload of a response, or the typed error its status and body describe. */
export async function answer<T>(t: ServerTarget, res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let payload: unknown = null;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (res.ok) return payload as T;
  const e = (payload as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
  const message = e?.message ?? `${res.status} ${res.statusText}`;
  switch (res.status) {
    case 400:
    case 413:
    case 415:
      throw new ValidationError(message, e?.field);
    case 401:
    case 403:
      throw new ConveyorError('UNAUTHORIZED', `the server at ${t.base} refused the token (${message}); pass --token or set CONVEYOR_TOKEN`);
    case 404:
      throw new NotFoundError(message);
    case 409:
      throw new StateError(message);
    case 429:
      throw new QueueFullError(message);
    case 502:
    case 503:
    case 504:
      throw new ConnectionError(`the server at ${t.base} cannot reach its store: ${message}`);
    default:
      throw new ConveyorError(e?.code ?? 'SERVER', `server error ${res.status}: ${message}`);
  }
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
