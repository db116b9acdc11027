import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach } from 'vitest';
import pino from 'pino';
import { memoryDirectory } from '../auth/memoryDirectory.ts';
import { freshStore, type Engine } from './databases.ts';
import { createAuthService } from '../../src/auth/service.ts';
import type { Store } from '../../src/store/db.ts';
import { insertCluster } from '../../src/store/insertCluster.ts';
import { replaceProjectAssignments } from '../../src/store/replaceProjectAssignments.ts';
import { errorHandler } from '../../src/server/errors.ts';
import { ajvOptions } from '../../src/server/openapi.ts';
import { registerAdminRoutes, type Probe } from '../../src/server/routes/admin.ts';
import type { ObservedState } from '../../src/provisioner/observe.ts';
import type { Principal } from '../../src/server/principal.ts';
import { registerPanelRoutes } from '../../src/server/routes/panel.ts';

/** Test users: `admin` holds c1's admin role, `member` only a member role, `outsider` nothing. */
export const USERS: Record<string, Principal> = {
  admin: { userId: 'u-admin', userName: 'ada', domainName: 'Default', via: 'session' },
  member: { userId: 'u-member', userName: 'max', domainName: 'Default', via: 'session' },
  outsider: { userId: 'u-out', userName: 'otto', domainName: 'Default', via: 'session' },
};

/** The public URL the panel test app is configured with (KAAS_PUBLIC_URL). */
export const PUBLIC_URL = 'https://kaas.example.test';

/**
 * A store with two clusters on project p1 (c1 "alpha", c2 "beta") and one on p2 (c3 "gamma"),
 * plus an app with the panel and admin routes where header `x-test-user` names the principal,
 * standing in for the auth layer's hook.
 */
export async function panelTestApp(
  options: {
    probe?: Probe;
    /** How the routes read a cluster's Nodes (the provisioner's observeCluster in kaas). */
    observe?: (clusterId: string) => Promise<ObservedState>;
    register?: (app: FastifyInstance, store: Store) => void;
    /** The configured public URL; null = none configured. */
    publicUrl?: string | null;
    /** The store's database engine (default SQLite). */
    engine?: Engine;
  } = {},
): Promise<{ app: FastifyInstance; store: Store; close: () => Promise<void> }> {
  const store = await freshStore(options.engine ?? 'sqlite');
  const createdAt = '2030-01-01T00:00:00.000Z';
  for (const [id, name, projectId, at] of [
    ['c1', 'alpha', 'p1', createdAt],
    ['c2', 'beta', 'p1', '2030-01-02T00:00:00.000Z'],
    ['c3', 'gamma', 'p2', '2030-01-03T00:00:00.000Z'],
  ] as const) {
    await insertCluster({
      db: store.db,
      cluster: {
        id,
        name,
        projectId,
        projectName: `proj-${projectId}`,
        adminRoleIds: ['r-admin'],
        createdAt: at,
      },
    });
  }
  await replaceProjectAssignments({
    db: store.db,
    projectId: 'p1',
    assignments: [
      { userId: 'u-admin', roleId: 'r-admin', roleName: 'admin' },
      { userId: 'u-admin', roleId: 'r-member', roleName: 'member' },
      { userId: 'u-member', roleId: 'r-member', roleName: 'member' },
    ],
  });
  await replaceProjectAssignments({
    db: store.db,
    projectId: 'p2',
    assignments: [{ userId: 'u-out', roleId: 'r-member', roleName: 'member' }],
  });
  const app = Fastify({ logger: false, ajv: ajvOptions });
  app.setErrorHandler(errorHandler);
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    request.principal = USERS[String(request.headers['x-test-user'])];
  });
  const deps = {
    store,
    logger: pino({ level: 'silent' }),
    now: () => new Date('2030-02-01T00:00:00.000Z'),
    ...(options.observe ? { observe: options.observe } : {}),
  };
  const publicUrl = options.publicUrl === undefined ? PUBLIC_URL : options.publicUrl;
  registerPanelRoutes(app, { ...deps, ...(publicUrl === null ? {} : { publicUrl: () => publicUrl }) });
  const auth = createAuthService({ ...deps, directory: memoryDirectory().directory });
  registerAdminRoutes(app, { ...deps, auth, ...(options.probe ? { probe: options.probe } : {}) });
  options.register?.(app, store);
  await app.ready();
  const close = async () => {
    await auth.close();
    await app.close();
    await store.close();
  };
  return { app, store, close };
}

/** `user` (a key of USERS) calls the app: `method url`, with a JSON body when given. */
export function callAs(
  app: FastifyInstance,
  user: string,
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  payload?: object,
) {
  return app.inject({
    method,
    url,
    headers: { 'x-test-user': user },
    ...(payload === undefined ? {} : { payload }),
  });
}

/** A fresh panelTestApp before each test of the calling describe block, closed after it. */
export function eachPanelTestApp(options: Parameters<typeof panelTestApp>[0] = {}): {
  readonly app: FastifyInstance;
  readonly store: Store;
} {
  let fixture: Awaited<ReturnType<typeof panelTestApp>> | undefined;
  beforeEach(async () => {
    fixture = await panelTestApp(options);
  });
  afterEach(async () => {
    await fixture?.close();
    fixture = undefined;
  });
  const current = () => {
    if (!fixture) throw new Error('the panel test app exists only inside a test');
    return fixture;
  };
  return {
    get app() {
      return current().app;
    },
    get store() {
      return current().store;
    },
  };
}
