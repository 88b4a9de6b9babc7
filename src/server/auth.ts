/** Bearer-token auth: constant-time comparison; /health stays open for load balancers. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './http-errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function installAuth(app: FastifyInstance, token: string | undefined): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (path === '/health' || path === '/' || path === '/openapi.json' || path.startsWith('/docs') || path.startsWith('/dashboard')) return;
    // The header only: a token in a query string ends up in logs, histories and proxies.
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    // Hashing first makes both sides the same length, so the comparison leaks nothing.
    if (!given || !timingSafeEqual(digest(given), expected)) {
      return reply.status(401).header('www-authenticate', 'Bearer').send(errorBody('UNAUTHORIZED', 'missing or wrong token'));
    }
  });
}

/** True when every address the host name resolves to is a loopback address (a name is not trusted by its spelling). */
export async function isLoopback(host: string): Promise<boolean> {
  const literal = host.replace(/^\[|\]$/g, '');
  if (isIP(literal)) return isLoopbackAddress(literal);
  let addresses: { address: string }[];
  try {
    addresses = await lookup(literal, { all: true });
  } catch {
    return false;
  }
  return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address));
}

function isLoopbackAddress(ip: string): boolean {
  return ip === '::1' || /^127\.\d+\.\d+\.\d+$/.test(ip) || /^::ffff:127\./i.test(ip);
}
