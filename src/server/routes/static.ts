import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
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

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Paths owned by the API side: an unknown one is a JSON 404, never the SPA's index.html. */
const API_PREFIXES = ['/api/', '/tokenreview', '/metrics', '/healthz', '/openapi'];

function securityHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', CONTROL_PANEL_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

async function fileSize(path: string): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves the control panel: files from `rootDir`, `index.html` for any other GET that is not an
 * API path (client-side routes), a year-long immutable cache for Vite's hashed `/assets/`, and
 * `no-cache` for the HTML so a deploy is picked up on the next load.
 */
export function registerStaticRoutes(app: FastifyInstance, deps: StaticDeps): void {
  const root = resolve(deps.rootDir);

  app.get('/*', async (request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (API_PREFIXES.some((p) => path === p.replace(/\/$/, '') || path.startsWith(p)))
      return reply.callNotFound();
    // Fastify's router has already rejected malformed percent-encoding with a 400.
    const decoded = decodeURIComponent(path);
    const file = join(root, normalize(decoded));
    const inside = file.startsWith(root + sep) && !decoded.includes('\0');
    const size = inside && decoded !== '/' ? await fileSize(file) : undefined;
    if (size !== undefined) {
      const immutable = decoded.startsWith('/assets/');
      return securityHeaders(reply)
        .header('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
        .header('content-length', size)
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .send(createReadStream(file));
    }
    // A missing file with an extension is a broken asset link, not a page: answering it with HTML hides the bug.
    if (extname(decoded) !== '') return reply.callNotFound();
    const index = join(root, 'index.html');
    const indexSize = await fileSize(index);
    if (indexSize === undefined)
      return securityHeaders(reply)
        .status(503)
        .header('content-type', 'text/plain; charset=utf-8')
        .send('The control panel is not built: run "npm run build:web".');
    return securityHeaders(reply)
      .header('content-type', TYPES['.html'])
      .header('content-length', indexSize)
      .header('cache-control', 'no-cache')
      .send(createReadStream(index));
  });
}
