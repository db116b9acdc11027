import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyRequest, FastifySchema, RouteOptions } from 'fastify';

declare module 'fastify' {
  interface FastifySchema {
    /** OpenAPI operation fields, read by openApiDocument only. */
    summary?: string;
    description?: string;
    tags?: string[];
  }
}

/** A JSON Schema as the routes write it (draft-07 keywords that OpenAPI 3.1 reads as they are). */
export type JsonSchema = Record<string, unknown>;

/** Shared schemas by identity: the document names them once under `components/schemas`. */
const components = new Map<object, string>();

/** Names `schema` as a shared component: routes use the object itself, the document a `$ref`. */
export function component<T extends JsonSchema>(name: string, schema: T): T {
  components.set(schema, name);
  return schema;
}

/** The one error body of the API (server/errors.ts): `{ error: { code, message, field? } }`. */
export const errorSchema = component('Error', {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'stable code for scripts, e.g. invalid_input, not_found' },
        message: { type: 'string', description: 'what went wrong, for a person' },
        field: { type: 'string', description: 'the offending input field, when there is one' },
      },
    },
  },
});

/** The shared error body under each of `statuses`. */
export function errorResponses(...statuses: number[]): Record<number, JsonSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorSchema]));
}

/** A response without a body (204); Fastify serializes nothing, the document lists no content. */
export const noContent = { type: 'null', description: 'No content' } as const;

const optionalBodies = new WeakSet<object>();

/**
 * Marks a body schema as optional: Fastify refuses a missing body when the route has a body schema,
 * so such routes also take `emptyBodyAsObject` as their preValidation hook.
 */
export function optionalBody<T extends JsonSchema>(schema: T): T {
  optionalBodies.add(schema);
  return schema;
}

/** preValidation hook: a request without a body is read as `{}` (see optionalBody). */
export async function emptyBodyAsObject(request: FastifyRequest): Promise<void> {
  if (request.body === undefined) request.body = {};
}

/** `schema` or null. */
export function nullable(schema: JsonSchema): JsonSchema {
  return { anyOf: [schema, { type: 'null' }] };
}

/** An object whose `required` keys are all of `properties`' keys but `optional`. */
export function object(properties: Record<string, JsonSchema>, optional: string[] = []): JsonSchema {
  return {
    type: 'object',
    required: Object.keys(properties).filter((key) => !optional.includes(key)),
    properties,
  };
}

/** A string path parameter object for the given names. */
export function pathParams(...names: string[]): JsonSchema {
  return object(Object.fromEntries(names.map((name) => [name, { type: 'string', minLength: 1 }])));
}

/**
 * A non-JSON response body as Fastify reads it: `{ content: { [mediaType]: { schema } } }`; `schema`
 * is that of the parsed document where the media type has one (YAML), else a string.
 */
export function textResponse(
  mediaType: string,
  description: string,
  schema: JsonSchema = { type: 'string' },
): JsonSchema {
  return { description, content: { [mediaType]: { schema } } };
}

/**
 * Request validation without silent changes: Fastify's default Ajv coerces types (`"3"` → 3,
 * `true` → 1) and may strip properties, so handlers would get something else than was sent.
 * Schemas validate; handlers see the request as sent.
 */
export const ajvOptions = { customOptions: { coerceTypes: false, removeAdditional: false } } as const;

const asReturned = () => (data: unknown) => JSON.stringify(data);

/**
 * Route options for a documented API route: its schema validates the request and documents the
 * answers, which are serialized as the handler returned them (JSON.stringify), not filtered through
 * the response schema: a field missing from a schema must show up as a schema failure (the
 * schemathesis test), never vanish from the answer.
 */
export function documented(schema: FastifySchema): {
  schema: FastifySchema;
  serializerCompiler: typeof asReturned;
} {
  return { schema, serializerCompiler: asReturned };
}

interface DocumentedRoute {
  method: string;
  url: string;
  schema: FastifySchema;
}

/** Security schemes of the document: API tokens, and the panel's session with its CSRF header. */
const securitySchemes = {
  bearer: { type: 'http', scheme: 'bearer', description: 'a kaas API token (POST /api/v1/tokens)' },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: 'kaas_session',
    description: 'the panel session from POST /api/v1/login; writes also need X-CSRF-Token',
  },
  csrf: {
    type: 'apiKey',
    in: 'header',
    name: 'X-CSRF-Token',
    description: 'csrfToken of the session (GET /api/v1/session); needed on cookie-authenticated writes',
  },
};

/**
 * Serves `GET /openapi.json`, an OpenAPI 3.1 document built from the schemas of every route
 * registered after this call (in any scope) that has one. Register it before the routes.
 */
export function registerOpenApi(app: FastifyInstance, info: { title: string; version: string }): void {
  const routes: DocumentedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.schema) return;
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url, schema: route.schema });
    }
  });
  let document: object | undefined;
  app.get(
    '/openapi.json',
    documented({
      summary: 'This OpenAPI document',
      tags: ['meta'],
      response: { 200: { type: 'object', required: ['openapi', 'info', 'paths'] } },
    }),
    async () => (document ??= openApiDocument(routes, info)),
  );
}

/** The OpenAPI 3.1 document for `routes` (pure: same routes, same document). */
export function openApiDocument(
  routes: readonly DocumentedRoute[],
  info: { title: string; version: string },
): object {
  const used = new Map<string, JsonSchema>();
  const ref = (schema: unknown): unknown => withRefs(schema, used);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { method, url, schema } of [...routes].sort((a, b) => a.url.localeCompare(b.url))) {
    const path = url.replace(/:(\w+)/g, '{$1}');
    const operation: Record<string, unknown> = {
      operationId: `${method.toLowerCase()}${path.replace(/\W+(\w)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`,
      ...(schema.summary ? { summary: schema.summary } : {}),
      ...(schema.description ? { description: schema.description } : {}),
      ...(schema.tags ? { tags: schema.tags } : {}),
    };
    const parameters = [
      ...parametersOf(schema.params, 'path'),
      ...parametersOf(schema.querystring, 'query'),
    ].map((p) => ({ ...p, schema: ref(p.schema) }));
    if (parameters.length > 0) operation.parameters = parameters;
    if (schema.body) {
      operation.requestBody = {
        required: !optionalBodies.has(schema.body),
        content: { 'application/json': { schema: ref(schema.body) } },
      };
    }
    if (path.startsWith('/api/v1/') && path !== '/api/v1/login')
      operation.security = [{ bearer: [] }, { session: [] }, { session: [], csrf: [] }];
    operation.responses = Object.fromEntries(
      Object.entries((schema.response ?? {}) as Record<string, JsonSchema>).map(([status, s]) => [
        status,
        responseOf(status, s, ref),
      ]),
    );
    (paths[path] ??= {})[method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info,
    paths,
    components: { schemas: Object.fromEntries(used), securitySchemes },
  };
}

function responseOf(status: string, schema: JsonSchema, ref: (s: unknown) => unknown): object {
  const description =
    (schema.description as string | undefined) ?? STATUS_CODES[Number(status)] ?? `HTTP ${status}`;
  if (schema.type === 'null') return { description };
  if (schema.content) {
    const content = schema.content as Record<string, { schema: unknown }>;
    return {
      description,
      content: Object.fromEntries(
        Object.entries(content).map(([type, c]) => [type, { schema: ref(c.schema) }]),
      ),
    };
  }
  return { description, content: { 'application/json': { schema: ref(schema) } } };
}

function parametersOf(
  schema: unknown,
  where: 'path' | 'query',
): { name: string; in: string; required: boolean; schema: unknown; description?: string }[] {
  const s = schema as { properties?: Record<string, JsonSchema>; required?: string[] } | undefined;
  return Object.entries(s?.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (s?.required ?? []).includes(name),
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
    schema: property,
  }));
}

/** A copy of `schema` where each shared component is a `$ref`, collecting the components used. */
function withRefs(schema: unknown, used: Map<string, JsonSchema>): unknown {
  if (Array.isArray(schema)) return schema.map((s: unknown) => withRefs(s, used));
  if (schema === null || typeof schema !== 'object') return schema;
  const name = components.get(schema);
  if (name !== undefined && !used.has(name)) {
    used.set(name, {});
    used.set(name, expand(schema, used));
  }
  return name !== undefined ? { $ref: `#/components/schemas/${name}` } : expand(schema, used);
}

function expand(schema: object, used: Map<string, JsonSchema>): JsonSchema {
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, withRefs(v, used)]));
}
