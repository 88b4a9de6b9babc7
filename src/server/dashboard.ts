/**
 * Serves the dashboard (dashboard/: plain HTML, CSS and an ES module, no build step) at
 * `/`. It talks to the same REST API and event stream as every other client.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const DIR = new URL('../../dashboard/', import.meta.url);
const FILES: Record<string, string> = {
  '/': 'index.html',
  '/dashboard/app.js': 'app.js',
  '/dashboard/style.css': 'style.css',
};
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

export default async function dashboard(app: FastifyInstance): Promise<void> {
  // Read once at start-up: the files are part of the release, not user content.
  const cache = new Map(Object.entries(FILES).map(([route, file]) => [route, readFileSync(new URL(file, DIR), 'utf8')]));
  for (const [route, file] of Object.entries(FILES)) {
    app.get(route, { schema: { hide: true } }, async (_req, reply) =>
      reply.type(TYPES[file.split('.').pop()!]).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff').send(cache.get(route)),
    );
  }
}
