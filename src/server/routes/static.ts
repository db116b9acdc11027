import { access } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Where the built control panel lives (Vite's output, `web/dist`). */
export interface StaticDeps {
  rootDir: string;
}

/**
 * The panel loads only its own files; no inline script, no eval, no framing, no third-party hosts.
 * Styles set through React's `style` prop go through the CSSOM, which `style-src 'self'` allows.
 */
export const CONTROL_PANEL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Paths owned by the API side: an unknown one is a JSON 404, never the SPA's index.html. */
const API_PREFIXES = ['/api/', '/tokenreview', '/metrics', '/healthz', '/openapi'];

/** Vite's content-hashed files: a new build has new names, so browsers may keep them for a year. */
const IMMUTABLE = { maxAge: 365 * 24 * 3600_000, immutable: true } as const;
/** Everything else (the HTML, the favicon) is revalidated, so a deploy is picked up on the next load. */
const REVALIDATE = { cacheControl: false } as const;

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTROL_PANEL_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

/**
 * Serves the control panel through @fastify/static: files from `rootDir`, `index.html` for any other
 * GET without a file extension that is not an API path (client-side routes), a year-long immutable
 * cache for Vite's hashed `/assets/`, and `no-cache` for the rest. A missing file with an extension
 * is a broken asset link, not a page: it is a 404, since answering it with HTML hides the bug.
 */
export async function registerStaticRoutes(app: FastifyInstance, deps: StaticDeps): Promise<void> {
  const root = resolve(deps.rootDir);
  const index = join(root, 'index.html');
  // Inside its own plugin scope, so `reply.sendFile` decorates only the panel's route.
  await app.register(async (panel) => {
    await panel.register(fastifyStatic, { root, serve: false, index: false, dotfiles: 'ignore' });
    // @fastify/send's table still says application/javascript; RFC 9239 made text/javascript the type.
    panel.addHook('onSend', async (_request, reply, payload) => {
      const file = (payload as { path?: unknown } | null)?.path;
      if (typeof file === 'string' && file.endsWith('.js')) reply.type('text/javascript; charset=utf-8');
      return payload;
    });
    panel.get('/*', async (request, reply) => {
      const path = request.url.split('?')[0] ?? '/';
      if (API_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p)))
        return reply.callNotFound();
      // Fastify's router has already rejected malformed percent-encoding with a 400.
      const decoded = decodeURIComponent(path);
      if (decoded.split('/').includes('..') || decoded.includes('\0')) return reply.callNotFound();
      securityHeaders(reply);
      if (extname(decoded) !== '') {
        if (decoded.startsWith('/assets/')) return reply.sendFile(decoded, IMMUTABLE);
        return reply.header('cache-control', 'no-cache').sendFile(decoded, REVALIDATE);
      }
      if (
        !(await access(index).then(
          () => true,
          () => false,
        ))
      )
        return reply
          .status(503)
          .header('content-type', 'text/plain; charset=utf-8')
          .send('The control panel is not built: run "npm run build:web".');
      return reply.header('cache-control', 'no-cache').sendFile('index.html', REVALIDATE);
    });
  });
}
