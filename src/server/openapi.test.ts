import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthService, type AuthService } from '../auth/service.ts';
import { createLogger } from '../log.ts';
import type { Store } from '../store/db.ts';
import { memoryDirectory } from '../../test/auth/memoryDirectory.ts';
import { prodClusterStore } from '../../test/support/server.ts';
import { buildApp } from './app.ts';
import { errorHandler } from './errors.ts';
import {
  ajvOptions,
  documented,
  emptyBodyAsObject,
  errorResponses,
  noContent,
  object,
  optionalBody,
  registerOpenApi,
  textResponse,
} from './openapi.ts';

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, unknown> };
};

describe('OpenAPI document of the kaas app', () => {
  let store: Store;
  let auth: AuthService;
  let app: FastifyInstance;
  let doc: Doc;
  beforeAll(async () => {
    const now = () => new Date('2030-01-01T00:00:00Z');
    const logger = createLogger({ level: 'silent' });
    store = await prodClusterStore({ createdAt: now().toISOString() });
    auth = createAuthService({ store, directory: memoryDirectory().directory, logger, now });
    app = await buildApp({ store, logger, now, auth });
    const res = await app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => {
    await auth.close();
    await app.close();
    await store.close();
  });

  it('is OpenAPI 3.1 with every route of the app, in OpenAPI path syntax', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/healthz',
        '/metrics',
        '/openapi.json',
        '/tokenreview/{clusterId}',
        '/api/v1/login',
        '/api/v1/logout',
        '/api/v1/session',
        '/api/v1/tokens',
        '/api/v1/tokens/{id}',
        '/api/v1/clusters',
        '/api/v1/session/active-cluster',
        '/api/v1/clusters/{id}/kubeconfig',
        '/api/v1/clusters/{id}/role-bindings',
        '/api/v1/clusters/{id}/admin/audit.jsonl',
        '/api/v1/clusters/{id}/admin/tokens/{tokenId}',
      ]),
    );
    const revoke = doc.paths['/api/v1/clusters/{id}/admin/tokens/{tokenId}']?.delete;
    expect(revoke?.parameters).toEqual([
      { name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1 } },
      { name: 'tokenId', in: 'path', required: true, schema: { type: 'string', minLength: 1 } },
    ]);
    expect((revoke?.responses as Record<string, unknown>)['204']).toEqual({ description: 'No content' });
  });

  it('lists the cluster lifecycle and create-form catalogue routes when the server runs a provisioner', async () => {
    // Documentation only: no route is called, so neither the provisioner nor the cloud is used.
    const withJobs = await buildApp({
      store,
      logger: createLogger({ level: 'silent' }),
      now: () => new Date('2030-01-01T00:00:00Z'),
      auth,
      provisioner: {} as never,
      cloud: {} as never,
    });
    try {
      const documentedPaths: Doc['paths'] = (
        await withJobs.inject({ method: 'GET', url: '/openapi.json' })
      ).json().paths;
      const paths = Object.keys(documentedPaths);
      const rotate = documentedPaths['/api/v1/clusters/{id}/rotate-credentials']?.post;
      expect(Object.keys(rotate?.responses as object)).toEqual(
        expect.arrayContaining(['202', '403', '404', '409']),
      );
      const patch = documentedPaths['/api/v1/clusters/{id}']?.patch;
      expect(Object.keys(patch?.responses as object)).toEqual(expect.arrayContaining(['200', '400', '404']));
      expect(patch?.requestBody).toMatchObject({ required: true });
      expect(paths).toEqual(
        expect.arrayContaining([
          '/api/v1/clusters/{id}/resize',
          '/api/v1/clusters/{id}/upgrade',
          '/api/v1/clusters/{id}/retry',
          '/api/v1/clusters/{id}/rotate-credentials',
          '/api/v1/clusters/{id}/jobs/{jobId}',
          '/api/v1/catalog/versions',
          '/api/v1/catalog/flavors',
          '/api/v1/catalog/images',
          '/api/v1/catalog/defaults',
          '/api/v1/permissions',
        ]),
      );
    } finally {
      await withJobs.close();
    }
  });

  it('names the one error body as a component that every error status refers to', () => {
    const error = doc.components.schemas.Error as { properties: { error: { required: string[] } } };
    expect(error.properties.error.required).toEqual(['code', 'message']);
    const responses = doc.paths['/api/v1/tokens']?.post?.responses as Record<string, unknown>;
    expect(responses['400']).toEqual({
      description: 'Bad Request',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    });
  });

  it('documents non-JSON answers under their media type', () => {
    const ok = (doc.paths['/api/v1/clusters/{id}/kubeconfig']?.get?.responses as Record<string, unknown>)[
      '200'
    ] as { content: Record<string, unknown> };
    expect(Object.keys(ok.content)).toEqual(['application/yaml']);
  });

  it('refuses a body that breaks the schema with the shared error shape, naming the field', async () => {
    const login = await app.inject({ method: 'POST', url: '/api/v1/login', payload: { username: 'a' } });
    expect(login.statusCode).toBe(400);
    expect(login.json().error).toEqual({
      code: 'invalid_input',
      message: "body must have required property 'password'",
      field: 'password',
    });
  });
});

describe('documented routes', () => {
  let app: FastifyInstance;
  let doc: Doc;
  beforeAll(async () => {
    app = Fastify({ logger: false, ajv: ajvOptions });
    app.setErrorHandler(errorHandler);
    registerOpenApi(app, { title: 't', version: '1' });
    app.post(
      '/things/:id',
      {
        ...documented({
          params: object({ id: { type: 'string' } }),
          body: optionalBody(
            object({ count: { type: 'integer' }, tags: { type: 'object' } }, ['count', 'tags']),
          ),
          response: { 200: object({ got: {} }), 204: noContent, ...errorResponses(400) },
        }),
        preValidation: emptyBodyAsObject,
      },
      async (request) => ({ got: request.body, extra: 'not in the schema' }),
    );
    app.get(
      '/text',
      documented({ response: { 200: textResponse('text/plain', 'words') } }),
      async (_request, reply) => reply.type('text/plain').send('hello'),
    );
    doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
  });
  afterAll(() => app.close());

  it('hands handlers the body as sent: no type coercion, no stripped properties', async () => {
    const coerced = await app.inject({ method: 'POST', url: '/things/a', payload: { count: '3' } });
    expect(coerced.statusCode).toBe(400);
    expect(coerced.json().error).toMatchObject({ code: 'invalid_input', field: 'count' });
    const kept = await app.inject({ method: 'POST', url: '/things/a', payload: { count: 3, more: [1] } });
    expect(kept.json()).toEqual({ got: { count: 3, more: [1] }, extra: 'not in the schema' });
  });

  it('reads a missing optional body as {} and documents it as not required', async () => {
    const res = await app.inject({ method: 'POST', url: '/things/a' });
    expect(res.json().got).toEqual({});
    expect(doc.paths['/things/{id}']?.post?.requestBody).toMatchObject({ required: false });
  });

  it('serializes text answers as they are', async () => {
    const res = await app.inject({ method: 'GET', url: '/text' });
    expect(res.body).toBe('hello');
    expect(res.headers['content-type']).toContain('text/plain');
  });
});
