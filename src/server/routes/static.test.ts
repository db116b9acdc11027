import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONTROL_PANEL_CSP, registerStaticRoutes } from './static.ts';

describe('static routes', () => {
  let dir: string;
  let app: FastifyInstance;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kaas-web-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>kaas</title>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(join(dir, 'favicon.svg'), '<svg/>');
    writeFileSync(join(dir, '.env.js'), 'secret');
    writeFileSync(join(tmpdir(), 'kaas-secret.txt'), 'secret');
    app = Fastify({ logger: false });
    app.setNotFoundHandler((_request, reply) => reply.status(404).send({ error: { code: 'not_found' } }));
    app.get('/api/v1/known', async () => ({ ok: true }));
    await registerStaticRoutes(app, { rootDir: dir });
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves hashed assets with a year-long immutable cache and the CSP', async () => {
    const res = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('console.log(1)');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.headers['content-security-policy']).toBe(CONTROL_PANEL_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves other files and index.html with no-cache', async () => {
    const icon = await app.inject({ method: 'GET', url: '/favicon.svg' });
    expect(icon.headers['cache-control']).toBe('no-cache');
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    const root = await app.inject({ method: 'GET', url: '/' });
    expect(root.body).toContain('<title>kaas</title>');
    expect(root.headers['cache-control']).toBe('no-cache');
    expect(root.headers['content-security-policy']).toContain("script-src 'self'");
    expect(root.headers['x-frame-options']).toBe('DENY');
  });

  it('falls back to index.html for client-side routes', async () => {
    for (const url of ['/tokens', '/admin/role-bindings?x=1', '/login']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    }
  });

  it('keeps API paths, missing assets, traversal and bad encodings out of the fallback', async () => {
    expect((await app.inject({ method: 'GET', url: '/api/v1/known' })).json()).toEqual({ ok: true });
    for (const url of [
      '/api/v1/unknown',
      '/api',
      '/tokenreview/x',
      '/assets/missing-1.js',
      '/.env.js',
      '/%2e%2e/kaas-secret.txt',
      '/%2e%2e%2fkaas-secret.txt',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toEqual({ error: { code: 'not_found' } });
    }
    expect((await app.inject({ method: 'POST', url: '/tokens' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'GET', url: '/%E0%A4%A' })).statusCode).toBe(400);
  });

  it('says the panel is not built when index.html is missing', async () => {
    rmSync(join(dir, 'index.html'));
    const res = await app.inject({ method: 'GET', url: '/tokens' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build:web');
  });
});
