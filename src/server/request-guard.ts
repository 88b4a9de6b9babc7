/**
 * What a browser may not do to a server on this machine. A page the user visits can send
 * requests to 127.0.0.1 (cross-site request forgery), and a rebinding domain can make the
 * browser treat the server as its own origin (DNS rebinding). So:
 * - a request whose Host is a name other than localhost or an allowed one is refused (421):
 *   rebinding needs its own name in Host; IP literals cannot be rebound;
 * - a state-changing request from another origin (Origin, or Sec-Fetch-Site: cross-site)
 *   is refused (403); tools without a browser send no Origin and pass;
 * - a body that should be JSON must say so (415): a form or text/plain body is what a
 *   cross-site page can send without asking.
 * docs/security.md explains the threat model.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorBody } from './http-errors.ts';

export interface GuardOptions {
  /** Host names accepted besides IP literals and localhost ('*': any). */
  allowedHosts?: string[];
}

const CHANGES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Routes whose body is not JSON. */
const MULTIPART = new Set(['/queue/submit']);

function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return (colon > -1 && host.indexOf(':') === colon ? host.slice(0, colon) : host).toLowerCase();
}

function hostAllowed(req: FastifyRequest, allowed: Set<string>): boolean {
  if (allowed.has('*')) return true;
  const name = hostnameOf(req.headers.host ?? '');
  return name !== '' && (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || allowed.has(name));
}

function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return req.headers['sec-fetch-site'] !== 'cross-site';
  if (origin === 'null') return false;
  try {
    return new URL(origin).host.toLowerCase() === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

function hasBody(req: FastifyRequest): boolean {
  const length = req.headers['content-length'];
  return (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
}

export function installGuard(app: FastifyInstance, options: GuardOptions = {}): void {
  const allowed = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  app.addHook('onRequest', async (req, reply) => {
    if (!hostAllowed(req, allowed)) {
      return reply.status(421).send(errorBody('HOST', `Host "${req.headers.host ?? ''}" is not this server's: use an IP address or localhost, or allow the name (--allow-host)`));
    }
    if (!CHANGES.has(req.method)) return;
    if (!sameOrigin(req)) return reply.status(403).send(errorBody('ORIGIN', `requests from another origin (${req.headers.origin ?? 'cross-site'}) may not change anything here`));
    const path = req.url.split('?')[0];
    if (!hasBody(req) || MULTIPART.has(path)) return;
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/json' && !type.endsWith('+json')) {
      return reply.status(415).send(errorBody('CONTENT_TYPE', `send the body as JSON (content-type: application/json); got "${type || 'none'}"`));
    }
  });
}
