/** Bearer-token auth: constant-time comparison; /health stays open for load balancers. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './http-errors.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function installAuth(app: FastifyInstance, token: string | undefined): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0];
    if (path === '/health' || path === '/' || path === '/openapi.json' || path.startsWith('/docs') || path.startsWith('/dashboard')) return;
    const header = req.headers.authorization ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : typeof (req.query as Record<string, unknown>)?.token === 'string' && path === '/api/events' ? String((req.query as Record<string, unknown>).token) : '';
    // Hashing first makes both sides the same length, so the comparison leaks nothing.
    if (!given || !timingSafeEqual(digest(given), expected)) {
      return reply.status(401).header('www-authenticate', 'Bearer').send(errorBody('UNAUTHORIZED', 'missing or wrong token'));
    }
  });
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}
