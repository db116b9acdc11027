import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Writable } from 'node:stream';
import { openStore } from '../store/db.ts';
import { createLogger } from '../log.ts';
import { buildApp } from './app.ts';
import { ConflictError, InputError } from '../errors.ts';
import { postRaw } from '../../test/support/server.ts';

const sink = new Writable({ write: (_c, _e, cb) => cb() });

describe('server app', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    const store = openStore('sqlite::memory:');
    app = await buildApp({ store, logger: createLogger({ destination: sink }), now: () => new Date() });
    app.post('/boom/input', async () => {
      throw new InputError('name is too long', { field: 'name' });
    });
    app.post('/boom/conflict', async () => {
      throw new ConflictError('already running');
    });
    app.get('/boom/internal', async () => {
      throw new Error('secret internal detail');
    });
    app.post('/echo', async (request) => request.body);
  });
  afterAll(() => app.close());

  it('answers /healthz', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('maps domain errors to statuses with code, message and field', async () => {
    const input = await app.inject({ method: 'POST', url: '/boom/input' });
    expect(input.statusCode).toBe(400);
    expect(input.json()).toEqual({
      error: { code: 'invalid_input', message: 'name is too long', field: 'name' },
    });
    expect((await app.inject({ method: 'POST', url: '/boom/conflict' })).statusCode).toBe(409);
  });

  it('hides internals of unexpected errors', async () => {
    const res = await app.inject({ method: 'GET', url: '/boom/internal' });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret internal detail');
  });

  it('refuses malformed JSON and oversized bodies with clear 4xx', async () => {
    const bad = await postRaw(app, '/echo', '{"a":');
    expect(bad.statusCode).toBe(400);
    const big = await postRaw(app, '/echo', JSON.stringify({ a: 'x'.repeat(100_000) }));
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('body_too_large');
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.message).toBe('no route GET /nope');
  });
});
